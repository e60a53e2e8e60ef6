// Package nginxtest runs deploy/nginx.conf for tests: rewritten to run
// unprivileged on loopback ports in a temporary directory, in front of the
// replicas a test starts, with a test CA's certificate for its TLS
// (HTTP/2) server. It is shared by the deployment checks (deploy) and the
// browser tests (web), so that every test speaks one language.
package nginxtest
