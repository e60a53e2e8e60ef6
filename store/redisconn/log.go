package redisconn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// redisLog routes go-redis's own messages (one per failed dial while Redis
// is away) into the structured log at debug level: the hub already reports
// an outage once, as it begins and as it ends.
type redisLog struct{ log *slog.Logger }

// Printf logs one go-redis message at debug level.
func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.log.DebugContext(ctx, fmt.Sprintf(format, v...), "source", "go-redis")
}

// RouteLogs sends go-redis's own messages, process-wide, to log at debug
// level. Call it once, before Open.
func RouteLogs(log *slog.Logger) { redis.SetLogger(redisLog{log}) }
