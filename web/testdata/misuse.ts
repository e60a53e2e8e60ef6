// Misuses the declarations must reject (TestTypeDeclarations): each line
// starting with `jobwait.` is one error.
import * as jobwait from '@jobwait/client';

jobwait.wait(42);
jobwait.wait('a', { transports: ['websocket'] });
jobwait.wait('a', { onCompleted(body) { console.log(body.nothing); } });
jobwait.waitMany('a,b');
jobwait.wait('a').stop();
jobwait.wait('a', { token: 'a-token-not-a-provider' });
jobwait.wait('a', { token: () => 42 });
jobwait.wait('a', { EventSource: 'sse' });
