// Command jobwait serves the status of AI recommendation jobs: a short poll,
// a long poll and server-sent events, woken by Redis keyspace notifications.
// Every setting is a flag and an environment variable; run with -h to see them.
package main
