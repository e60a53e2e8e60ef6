/// <reference path="../jobwait.d.ts" />
// Misuses the declarations must reject (TestTypeDeclarations): each line is
// one error.

jobwait.wait(42);
jobwait.wait('a', { transports: ['websocket'] });
jobwait.wait('a', { onCompleted(body) { console.log(body.nothing); } });
jobwait.waitMany('a,b');
jobwait.wait('a').stop();
