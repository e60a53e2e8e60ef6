// Package deploy holds jobwait's deployment files and the checks on them
// that need no container engine: deploy/nginx.conf (nginx in front of the
// replicas of docker-compose.yml's "scale" profile) here, and, from the
// repository root, Dockerfile, docker-compose.yml and docs/openapi.yaml.
//
// The package has no Go code of its own; its tests read those files as YAML
// or text, cross-check them against each other, run `nginx -t` on
// nginx.conf and proxy a stream through a real nginx. `docker compose config`
// is deliberately not used: the tests run where there is no Docker engine,
// and they check at the YAML level what compose would interpolate (a lone
// `$` in docker-compose.yml is a bug, a literal one is written `$$`).
//
// conformance_test.go runs the real jobwait against a private redis-server
// and checks what it answers against docs/openapi.yaml with kin-openapi's
// openapi3filter: status, headers, Content-Type, body schema, and each SSE
// event's data against the schema its x-events names, for every documented
// response, so that neither the server nor the document can drift alone.
// openapi_test.go loads the document with kin-openapi (structure,
// references, every example against its schema) and checks that it says
// what SPEC.md does; openapi_lint_test.go runs the linters people run on
// it, redocly and spectral, each with its default rules.
//
// The documentation is checked as users meet it. readme_test.go runs
// README's shell examples, as pasted, against the real binary started as
// `make run` starts it (each ```sh block says above it what its output must
// show, or why it is not run), and checks README's settings table against
// `jobwait -h`. links_test.go checks that every relative link of every
// Markdown file names a file (and heading) in the repository, and that
// every test the documents name exists.
//
// operator_test.go checks the operator's view: prometheus/alerts.yml with
// promtool (check rules, check config, and the unit tests of
// prometheus/alerts_test.yml), grafana/dashboards/jobwait.json (it parses,
// every panel has a query on the provisioned datasource), that every metric
// either names is on the real jobwait's /metrics, and the compose
// "monitoring" profile that runs Prometheus and Grafana with both.
//
// The helm*_test.go files check the Helm chart, helm/jobwait: rendered by
// the real helm (built once from its Go module into the user cache, see
// helmbin_test.go), with its default values, values-production.yaml and
// others, every object decoded strictly into the Kubernetes API types; what
// matters is asserted (probes, shutdown and grace, selectors, Secrets,
// sizing), `helm lint --strict` passes, and the real jobwait is started as
// the pod would start it. helmchart_test.go holds the checks that need no
// helm.
package deploy
