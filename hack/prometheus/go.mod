// Wrapper module that builds promtool and prometheus for the tests (rule checks, rule unit tests, and a real
// server scraping the operator). The Prometheus Go module's v0.3XX.Y versions are Prometheus 3.XX.Y.
module example.invalid/cai-prometheus

go 1.26.0

require github.com/prometheus/prometheus v0.316.0
