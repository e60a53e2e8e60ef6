// Package deploy holds jobwait's deployment files and the checks on them
// that need no container engine: deploy/nginx.conf (nginx in front of the
// replicas of docker-compose.yml's "scale" profile) here, and, from the
// repository root, Dockerfile, docker-compose.yml and docs/openapi.yaml.
//
// The package has no Go code of its own; its tests read those files as YAML
// or text, cross-check them, run `nginx -t` on nginx.conf and proxy a stream
// through a real nginx. `docker compose config` is not used (the tests run
// without a Docker engine): what compose would interpolate is checked at the
// YAML level (a lone `$` is a bug, a literal one is written `$$`).
//
// conformance_test.go checks what the real jobwait, on a private
// redis-server, answers against docs/openapi.yaml with kin-openapi's
// openapi3filter (status, headers, Content-Type, body schema, each SSE
// event's data against the schema its x-events names), for every documented
// response. openapi_test.go checks the document's structure, references and
// examples, and that it says what SPEC.md does; openapi_lint_test.go runs
// redocly and spectral, each with its default rules.
//
// readme_test.go runs README's shell examples as pasted against the real
// binary started as `make run` starts it (each ```sh block says above it what
// its output must show, or why it is not run) and checks README's settings
// table against `jobwait -h`. links_test.go checks that every relative link
// of every Markdown file names a file (and heading) in the repository, and
// that every test the documents name exists.
//
// operator_test.go checks prometheus/alerts.yml with promtool (check rules,
// check config, the unit tests of prometheus/alerts_test.yml),
// grafana/dashboards/jobwait.json (every panel queries the provisioned
// datasource), that every metric either names is on the real jobwait's
// /metrics, and the compose "monitoring" profile.
//
// The helm*_test.go files render the chart helm/jobwait with the real helm
// (built once from its Go module into the user cache, see helmbin_test.go)
// with its default values, values-production.yaml and others, decode every
// object strictly into the Kubernetes API types, assert what matters
// (probes, shutdown and grace, selectors, Secrets, sizing), run `helm lint
// --strict`, and start the real jobwait as the pod would. helmchart_test.go
// holds the checks that need no helm.
package deploy
