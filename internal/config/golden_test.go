package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/config"
)

// q1 is a minimal valid queues block, for cases about other settings.
const q1 = "queues: [{id: q1, timezone: UTC}]"

// goldenEnv is the environment of the golden cases.
var goldenEnv = env("WEB_SECRET", "0123456789abcdef", "GC_ID", "gc-client", "EMPTY", "")

// goldenErrors pins the exact message, file:line: field: text, of one
// broken configuration per error the parser can report. Relative paths in
// the files are resolved against testdata.
var goldenErrors = []struct {
	name string
	yaml []string // line i+1 of the file
	want string
}{
	// The document.
	{"yaml syntax", []string{"queues:", "  - id: q1", "    name: a: b"}, "bad.yaml:3: invalid YAML: mapping values are not allowed in this context"},
	{"yaml syntax without a line", []string{"queues: *nowhere"}, "bad.yaml: invalid YAML: unknown anchor 'nowhere' referenced"},
	{"two documents", []string{q1, "---", "listen: :8080"}, "bad.yaml:2: only one YAML document is allowed"},
	{"yaml syntax in a second document", []string{q1, "---", "listen: [:8080"}, "bad.yaml:2: invalid YAML: did not find expected node content"},
	{"root is a list", []string{"- listen: :8080"}, "bad.yaml:1: must be a mapping, not a list"},
	{"root is a string", []string{"hello"}, `bad.yaml:1: must be a mapping, not "hello"`},
	{"key is a list", []string{"? [a, b]", ": c", q1}, "bad.yaml:1: keys must be strings, not a list"},
	{"merge key", []string{"base: &b {listen: ':8080'}", "<<: *b", q1}, "bad.yaml:2: <<: merge keys are not supported"},
	{"key given twice", []string{q1, "listen: :8080", "listen: :9090"}, "bad.yaml:3: listen: is given twice (first on line 2)"},
	{"unknown top-level key", []string{q1, "colour: blue"}, "bad.yaml:2: colour: unknown field"},
	{"empty file", []string{""}, "bad.yaml: queues: at least one queue is required"},
	{"null document", []string{"~"}, "bad.yaml: queues: at least one queue is required"},

	// Top-level settings.
	{"listen is not host:port", []string{"listen: localhost", q1}, `bad.yaml:1: listen: "localhost" is not a host:port address`},
	{"listen is a mapping", []string{"listen: {host: localhost}", q1}, "bad.yaml:1: listen: must be a string, not a mapping"},
	{"sqlite without a file", []string{"database: 'sqlite:'", q1}, "bad.yaml:1: database: sqlite: needs a file name, like sqlite:./slotline.db"},
	{"database scheme", []string{"database: mysql://app:hunter2@db/slotline", q1}, "bad.yaml:1: database: must start with sqlite:, postgres:// or postgresql://"},
	{"database is a list", []string{"database: [sqlite:a.db]", q1}, "bad.yaml:1: database: must be a string, not a list"},
	{"tls is a string", []string{"tls: server.crt", q1}, `bad.yaml:1: tls: must be a mapping, not "server.crt"`},
	{"tls without cert", []string{"tls: {key: server.key}", q1}, "bad.yaml:1: tls.cert: is required when tls is given"},
	{"tls without key", []string{"tls:", "  cert: server.crt", q1}, "bad.yaml:2: tls.key: is required when tls is given"},
	{"tls cert is a list", []string{"tls: {cert: [a], key: b}", q1}, "bad.yaml:1: tls.cert: must be a string, not a list"},
	{"public_url without scheme", []string{"public_url: callbacks.example.com", q1}, `bad.yaml:1: public_url: "callbacks.example.com" is not an absolute http or https URL`},
	{"public_url without host", []string{"public_url: 'https://'", q1}, `bad.yaml:1: public_url: "https://" is not an absolute http or https URL`},
	{"public_url is a list", []string{"public_url: [a]", q1}, "bad.yaml:1: public_url: must be a string, not a list"},
	{"http is a list", []string{"http: [30s]", q1}, "bad.yaml:1: http: must be a mapping, not a list"},
	{"unknown http key", []string{"http: {read_timeout: 5s}", q1}, "bad.yaml:1: http.read_timeout: unknown field"},
	{"http write_timeout zero", []string{"http:", "  write_timeout: 0s", q1}, "bad.yaml:2: http.write_timeout: must be positive"},
	{"http write_timeout not a duration", []string{"http:", "  write_timeout: soon", q1}, `bad.yaml:2: http.write_timeout: "soon" is not a duration like 90s, 15m, 1h or 30d`},
	{"http max_connections negative", []string{"http:", "  max_connections: -1", q1}, "bad.yaml:2: http.max_connections: must be from 0 to 10000000 (0: no cap)"},
	{"http max_connections not an integer", []string{"http:", "  max_connections: many", q1}, `bad.yaml:2: http.max_connections: "many" is not an integer`},
	{"http max_connections_per_address too big", []string{"http:", "  max_connections_per_address: 10000001", q1}, "bad.yaml:2: http.max_connections_per_address: must be from 0 to 10000000 (0: no cap)"},
	{"log is a list", []string{"log: [info]", q1}, "bad.yaml:1: log: must be a mapping, not a list"},
	{"log level", []string{"log: {level: verbose}", q1}, `bad.yaml:1: log.level: "verbose" is not one of debug, info, warn, error`},
	{"log format", []string{"log: {format: xml}", q1}, `bad.yaml:1: log.format: "xml" is not one of json, text`},
	{"log level is a list", []string{"log: {level: [info]}", q1}, "bad.yaml:1: log.level: must be a string, not a list"},
	{"unknown log key", []string{"log: {colour: true}", q1}, "bad.yaml:1: log.colour: unknown field"},
	{"token_ttl zero", []string{"token_ttl: 0s", q1}, "bad.yaml:1: token_ttl: must be positive"},
	{"token_ttl negative", []string{"token_ttl: -1h", q1}, "bad.yaml:1: token_ttl: -1h must not be negative"},
	{"token_ttl not a duration", []string{"token_ttl: an hour", q1}, `bad.yaml:1: token_ttl: "an hour" is not a duration like 90s, 15m, 1h or 30d`},
	{"token_ttl is a mapping", []string{"token_ttl: {h: 1}", q1}, "bad.yaml:1: token_ttl: must be a string, not a mapping"},
	{"login_throttle is a list", []string{"login_throttle: [10/min]", q1}, "bad.yaml:1: login_throttle: must be a mapping, not a list"},
	{"unknown login_throttle key", []string{"login_throttle:", "  per_ip: 10/min", q1}, "bad.yaml:2: login_throttle.per_ip: unknown field"},
	{"login_throttle per_client not a rate", []string{"login_throttle: {per_client: ten}", q1}, `bad.yaml:1: login_throttle.per_client: "ten" is not a rate like 50/s, 100/min or 1000/h`},
	{"login_throttle per_client zero", []string{"login_throttle: {per_client: 0/min}", q1}, `bad.yaml:1: login_throttle.per_client: "0/min" must be positive`},
	{"login_throttle per_address is a list", []string{"login_throttle:", "  per_address: [off]", q1}, "bad.yaml:2: login_throttle.per_address: must be a string, not a list"},
	{"login_throttle burst zero", []string{"login_throttle:", "  per_client_burst: 0", q1}, "bad.yaml:2: login_throttle.per_client_burst: must be from 1 to 10000"},
	{"login_throttle burst not an integer", []string{"login_throttle:", "  per_address_burst: lots", q1}, `bad.yaml:2: login_throttle.per_address_burst: "lots" is not an integer`},
	{"retention is a string", []string{"retention: 90d", q1}, `bad.yaml:1: retention: must be a mapping, not "90d"`},
	{"unknown retention key", []string{"retention: {erase_after: 90d}", q1}, "bad.yaml:1: retention.erase_after: unknown field"},
	{"retention not a duration", []string{"retention: {erase_numbers_after: 3 months}", q1}, `bad.yaml:1: retention.erase_numbers_after: "3 months" is not a duration like 90s, 15m, 1h or 30d`},
	{"sms is a string", []string{"sms: hello", q1}, `bad.yaml:1: sms: must be a mapping, not "hello"`},
	{"unknown sms key", []string{"sms:", "  txt: hello", q1}, "bad.yaml:2: sms.txt: unknown field"},
	{"sms text too long", []string{"sms:", "  text: " + strings.Repeat("é", 766), q1}, "bad.yaml:2: sms.text: is 766 characters long; at most 765 are allowed"},
	{"sms text is a list", []string{"sms: {text: [a]}", q1}, "bad.yaml:1: sms.text: must be a string, not a list"},

	// Clients and secrets.
	{"clients is a mapping", []string{q1, "clients: {id: web}"}, "bad.yaml:2: clients: must be a list, not a mapping"},
	{"client is a string", []string{q1, "clients: [web]"}, `bad.yaml:2: clients[0]: must be a mapping, not "web"`},
	{"unknown client key", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scope: [callback:read]"}, "bad.yaml:5: clients[0].scope: unknown field"},
	{"client without id", []string{q1, "clients:", "  - secret_env: WEB_SECRET", "    scopes: [callback:read]"}, "bad.yaml:3: clients[0].id: is required"},
	{"client id too long", []string{q1, "clients:", "  - id: " + strings.Repeat("w", 65), "    secret_env: WEB_SECRET", "    scopes: [callback:read]"}, `bad.yaml:3: clients[0].id: "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww" must be 1 to 64 letters, digits, '_', '.' or '-'`},
	{"client id with a space", []string{q1, "clients:", "  - id: web site", "    secret_env: WEB_SECRET", "    scopes: [callback:read]"}, `bad.yaml:3: clients[0].id: "web site" must be 1 to 64 letters, digits, '_', '.' or '-'`},
	{"client id is a list", []string{q1, "clients:", "  - id: [web]", "    secret_env: WEB_SECRET", "    scopes: [callback:read]"}, "bad.yaml:3: clients[0].id: must be a string, not a list"},
	{"client id used twice", []string{q1, "clients:", "  - {id: web, secret_env: WEB_SECRET, scopes: [callback:read]}", "  - {secret_env: WEB_SECRET, id: web, scopes: [callback:read]}"}, `bad.yaml:4: clients[1].id: "web" is already used by clients[0]`},
	{"no secret", []string{q1, "clients:", "  - id: web", "    scopes: [callback:read]"}, "bad.yaml:3: clients[0]: one of secret_env, secret_file or secret is required"},
	{"two secrets", []string{q1, "clients:", "  - id: web", "    secret: 0123456789abcdef", "    secret_env: WEB_SECRET", "    scopes: [callback:read]"}, "bad.yaml:5: clients[0].secret_env: give only one of secret_env, secret_file and secret"},
	{"three secrets", []string{q1, "clients:", "  - id: web", "    secret_file: web", "    secret_env: WEB_SECRET", "    secret: 0123456789abcdef", "    scopes: [callback:read]"}, "bad.yaml:5: clients[0].secret_env: give only one of secret_env, secret_file and secret"},
	{"secret_env empty", []string{q1, "clients:", "  - id: web", `    secret_env: ""`, "    scopes: [callback:read]"}, "bad.yaml:4: clients[0].secret_env: must name an environment variable"},
	{"secret_env unset", []string{q1, "clients:", "  - id: web", "    secret_env: NO_SUCH_VAR", "    scopes: [callback:read]"}, "bad.yaml:4: clients[0].secret_env: environment variable NO_SUCH_VAR is unset or empty"},
	{"secret_env set empty", []string{q1, "clients:", "  - id: web", "    secret_env: EMPTY", "    scopes: [callback:read]"}, "bad.yaml:4: clients[0].secret_env: environment variable EMPTY is unset or empty"},
	{"secret_env is a list", []string{q1, "clients:", "  - id: web", "    secret_env: [WEB_SECRET]", "    scopes: [callback:read]"}, "bad.yaml:4: clients[0].secret_env: must be a string, not a list"},
	{"secret_file empty", []string{q1, "clients:", "  - id: web", `    secret_file: ""`, "    scopes: [callback:read]"}, "bad.yaml:4: clients[0].secret_file: must name a file"},
	{"secret_file missing", []string{q1, "clients:", "  - id: web", "    secret_file: no-such-secret", "    scopes: [callback:read]"}, "bad.yaml:4: clients[0].secret_file: open testdata/no-such-secret: no such file or directory"},
	{"secret empty", []string{q1, "clients:", "  - id: web", `    secret: ""`, "    scopes: [callback:read]"}, "bad.yaml:4: clients[0].secret: must not be empty"},
	{"secret short", []string{q1, "clients:", "  - id: web", "    secret: hunter2", "    scopes: [callback:read]"}, "bad.yaml:4: clients[0].secret: the secret must be at least 16 characters"},
	{"no scopes", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET"}, "bad.yaml:3: clients[0].scopes: at least one scope is required"},
	{"scopes is a string", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scopes: callback:read"}, `bad.yaml:5: clients[0].scopes: must be a list, not "callback:read"`},
	{"scopes empty", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scopes: []"}, "bad.yaml:5: clients[0].scopes: at least one scope is required"},
	{"scope is a list", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scopes: [[callback:read]]"}, "bad.yaml:5: clients[0].scopes[0]: must be a string, not a list"},
	{"unknown scope", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scopes: [callback:read, callback:delete]"}, `bad.yaml:5: clients[0].scopes[1]: "callback:delete" is not one of callback:read, callback:write, webhook:read, webhook:write, callback:admin, webhook:admin, capacity:write`},
	{"scope listed twice", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scopes: [callback:read, callback:read]"}, `bad.yaml:5: clients[0].scopes[1]: "callback:read" is listed twice`},
	{"rate_limit not a rate", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scopes: [callback:read]", "    rate_limit: fast"}, `bad.yaml:6: clients[0].rate_limit: "fast" is not a rate like 50/s, 100/min or 1000/h`},
	{"rate_limit unit", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scopes: [callback:read]", "    rate_limit: 5/d"}, `bad.yaml:6: clients[0].rate_limit: "5/d" is not a rate like 50/s, 100/min or 1000/h`},
	{"rate_limit NaN", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scopes: [callback:read]", "    rate_limit: NaN/s"}, `bad.yaml:6: clients[0].rate_limit: "NaN/s" is not a rate like 50/s, 100/min or 1000/h`},
	{"rate_limit zero", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scopes: [callback:read]", "    rate_limit: 0/s"}, `bad.yaml:6: clients[0].rate_limit: "0/s" must be positive`},
	{"rate_limit too high", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scopes: [callback:read]", "    rate_limit: 2000001/s"}, `bad.yaml:6: clients[0].rate_limit: "2000001/s" is more than 1e+06/s`},
	{"rate_limit is a list", []string{q1, "clients:", "  - id: web", "    secret_env: WEB_SECRET", "    scopes: [callback:read]", "    rate_limit: [5/s]"}, "bad.yaml:6: clients[0].rate_limit: must be a string, not a list"},

	// Genesys.
	{"genesys is a list", []string{"genesys: [live]", q1}, "bad.yaml:1: genesys: must be a mapping, not a list"},
	{"unknown genesys key", []string{"genesys:", "  regoin: us-east-1", q1}, "bad.yaml:2: genesys.regoin: unknown field"},
	{"genesys mode", []string{"genesys: {mode: production}", q1}, `bad.yaml:1: genesys.mode: "production" is not one of live, sandbox`},
	{"genesys mode is a list", []string{"genesys: {mode: [live]}", q1}, "bad.yaml:1: genesys.mode: must be a string, not a list"},
	{"region then api_url", []string{"genesys:", "  region: mypurecloud.com", "  api_url: https://api.mypurecloud.com", "  login_url: https://login.mypurecloud.com", q1}, "bad.yaml:3: genesys.api_url: give region, or api_url and login_url, not both"},
	{"login_url then region", []string{"genesys:", "  login_url: https://login.mypurecloud.com", "  region: mypurecloud.com", q1}, "bad.yaml:3: genesys.region: give region, or api_url and login_url, not both"},
	{"region is a list", []string{"genesys: {region: [mypurecloud.com]}", q1}, "bad.yaml:1: genesys.region: must be a string, not a list"},
	{"unknown region", []string{"genesys:", "  region: mypurecloud.mars", q1}, `bad.yaml:2: genesys.region: "mypurecloud.mars" is not a Genesys Cloud region domain (like mypurecloud.com) or AWS region name (like us-east-1); for other hosts give api_url and login_url`},
	{"api_url without login_url", []string{"genesys:", "  api_url: https://api.mypurecloud.com", q1}, "bad.yaml:2: genesys.login_url: is required when api_url is given"},
	{"login_url without api_url", []string{"genesys:", "  login_url: https://login.mypurecloud.com", q1}, "bad.yaml:2: genesys.api_url: is required when login_url is given"},
	{"api_url relative", []string{"genesys:", "  api_url: api.mypurecloud.com", "  login_url: https://login.mypurecloud.com", q1}, `bad.yaml:2: genesys.api_url: "api.mypurecloud.com" is not an absolute http or https URL without query or fragment`},
	{"api_url with a password", []string{"genesys:", "  api_url: https://me:hunter2@api.mypurecloud.com", "  login_url: https://login.mypurecloud.com", q1}, "bad.yaml:2: genesys.api_url: must not hold a user name or password"},
	{"login_url with a query", []string{"genesys:", "  api_url: https://api.mypurecloud.com", "  login_url: https://login.mypurecloud.com/?a=b", q1}, `bad.yaml:3: genesys.login_url: "https://login.mypurecloud.com/?a=b" is not an absolute http or https URL without query or fragment`},
	{"login_url with a fragment", []string{"genesys:", "  api_url: https://api.mypurecloud.com", "  login_url: https://login.mypurecloud.com/#top", q1}, `bad.yaml:3: genesys.login_url: "https://login.mypurecloud.com/#top" is not an absolute http or https URL without query or fragment`},
	{"login_url ftp", []string{"genesys:", "  api_url: https://api.mypurecloud.com", "  login_url: ftp://login.mypurecloud.com", q1}, `bad.yaml:3: genesys.login_url: "ftp://login.mypurecloud.com" is not an absolute http or https URL without query or fragment`},
	{"api_url is a list", []string{"genesys: {api_url: [a], login_url: https://login.mypurecloud.com}", q1}, "bad.yaml:1: genesys.api_url: must be a string, not a list"},
	{"genesys rate_limit", []string{"genesys:", "  rate_limit: 250 per minute", q1}, `bad.yaml:2: genesys.rate_limit: "250 per minute" is not a rate like 50/s, 100/min or 1000/h`},
	{"genesys budget", []string{"genesys:", "  budget: cluster", q1}, `bad.yaml:2: genesys.budget: "cluster" is not one of shared, process`},
	{"genesys budget is a list", []string{"genesys: {budget: [shared]}", q1}, "bad.yaml:1: genesys.budget: must be a string, not a list"},
	{"max_retry_after zero", []string{"genesys:", "  max_retry_after: 0s", q1}, "bad.yaml:2: genesys.max_retry_after: must be positive"},
	{"call_timeout bad", []string{"genesys:", "  call_timeout: soon", q1}, `bad.yaml:2: genesys.call_timeout: "soon" is not a duration like 90s, 15m, 1h or 30d`},
	{"lost_create_window zero", []string{"genesys:", "  lost_create_window: 0s", q1}, "bad.yaml:2: genesys.lost_create_window: must be positive"},
	{"cancel_verify_window bad", []string{"genesys:", "  cancel_verify_window: later", q1}, `bad.yaml:2: genesys.cancel_verify_window: "later" is not a duration like 90s, 15m, 1h or 30d`},
	{"reconcile_every negative", []string{"genesys:", "  reconcile_every: -5m", q1}, "bad.yaml:2: genesys.reconcile_every: -5m must not be negative"},
	{"outcome_wait zero", []string{"genesys:", "  outcome_wait: 0s", q1}, "bad.yaml:2: genesys.outcome_wait: must be positive"},
	{"outcome_wait over an hour", []string{"genesys:", "  outcome_wait: 2h", q1}, "bad.yaml:2: genesys.outcome_wait: 2h is more than 1h"},
	{"outcome_wait not a duration", []string{"genesys:", "  outcome_wait: later", q1}, `bad.yaml:2: genesys.outcome_wait: "later" is not a duration like 90s, 15m, 1h or 30d`},
	{"workers zero", []string{"genesys:", "  workers: 0", q1}, "bad.yaml:2: genesys.workers: 0 is not between 1 and 256"},
	{"workers too many", []string{"genesys:", "  workers: 257", q1}, "bad.yaml:2: genesys.workers: 257 is not between 1 and 256"},
	{"workers not an integer", []string{"genesys:", "  workers: 1.5", q1}, `bad.yaml:2: genesys.workers: "1.5" is not an integer`},
	{"workers is a list", []string{"genesys:", "  workers: [1]", q1}, "bad.yaml:2: genesys.workers: must be an integer, not a list"},
	{"sandbox is a string", []string{"genesys:", "  sandbox: fast", q1}, `bad.yaml:2: genesys.sandbox: must be a mapping, not "fast"`},
	{"unknown sandbox key", []string{"genesys:", "  sandbox:", "    sped: 2", q1}, "bad.yaml:3: genesys.sandbox.sped: unknown field"},
	{"sandbox speed zero", []string{"genesys:", "  sandbox: {speed: 0}", q1}, "bad.yaml:2: genesys.sandbox.speed: 0 is not more than 0 and at most 1e+06"},
	{"sandbox speed too high", []string{"genesys:", "  sandbox: {speed: 1000001}", q1}, "bad.yaml:2: genesys.sandbox.speed: 1000001 is not more than 0 and at most 1e+06"},
	{"sandbox speed not a number", []string{"genesys:", "  sandbox: {speed: fast}", q1}, `bad.yaml:2: genesys.sandbox.speed: "fast" is not a number`},
	{"sandbox speed infinite", []string{"genesys:", "  sandbox: {speed: .inf}", q1}, `bad.yaml:2: genesys.sandbox.speed: ".inf" is not a number`},
	{"sandbox speed is a list", []string{"genesys:", "  sandbox: {speed: [1]}", q1}, "bad.yaml:2: genesys.sandbox.speed: must be a number, not a list"},
	{"sandbox answer_rate high", []string{"genesys:", "  sandbox:", "    answer_rate: 1.5", q1}, "bad.yaml:3: genesys.sandbox.answer_rate: 1.5 is not between 0 and 1"},
	{"sandbox answer_rate negative", []string{"genesys:", "  sandbox:", "    answer_rate: -0.1", q1}, "bad.yaml:3: genesys.sandbox.answer_rate: -0.1 is not between 0 and 1"},
	{"sandbox answer_rate NaN", []string{"genesys:", "  sandbox:", "    answer_rate: .nan", q1}, `bad.yaml:3: genesys.sandbox.answer_rate: ".nan" is not a number`},
	{"sandbox ring_time zero", []string{"genesys:", "  sandbox: {ring_time: 0s}", q1}, "bad.yaml:2: genesys.sandbox.ring_time: must be positive"},
	{"sandbox talk_time bad", []string{"genesys:", "  sandbox: {talk_time: long}", q1}, `bad.yaml:2: genesys.sandbox.talk_time: "long" is not a duration like 90s, 15m, 1h or 30d`},
	{"sandbox addr", []string{"genesys:", "  sandbox: {addr: localhost}", q1}, `bad.yaml:2: genesys.sandbox.addr: "localhost" is not a host:port address`},
	{"live without region", []string{"genesys: {client_id: abc, client_secret_env: WEB_SECRET}", q1}, "bad.yaml:1: genesys.region: mode live needs region, or api_url and login_url"},
	{"live without client id", []string{"genesys:", "  mode: live", "  region: mypurecloud.com", q1}, "bad.yaml:2: genesys.client_id: mode live needs client_id_env or client_id"},
	{"live without secret", []string{"genesys:", "  region: mypurecloud.com", "  client_id: abc", q1}, "bad.yaml:2: genesys.client_secret: mode live needs client_secret_env, client_secret_file or client_secret"},
	{"two client ids", []string{"genesys:", "  region: mypurecloud.com", "  client_id: abc", "  client_id_env: GC_ID", "  client_secret_env: WEB_SECRET", q1}, "bad.yaml:4: genesys.client_id_env: give only one of client_id_env and client_id"},
	{"client_id empty", []string{"genesys:", "  region: mypurecloud.com", `  client_id: ""`, "  client_secret_env: WEB_SECRET", q1}, "bad.yaml:3: genesys.client_id: must not be empty"},
	{"client_id_env unset", []string{"genesys:", "  region: mypurecloud.com", "  client_id_env: GENESYS_CLIENT_ID", "  client_secret_env: WEB_SECRET", q1}, "bad.yaml:3: genesys.client_id_env: environment variable GENESYS_CLIENT_ID is unset or empty"},
	{"two client secrets", []string{"genesys:", "  region: mypurecloud.com", "  client_id: abc", "  client_secret_env: WEB_SECRET", "  client_secret: hunter2", q1}, "bad.yaml:5: genesys.client_secret: give only one of client_secret_env, client_secret_file and client_secret"},
	{"client_secret_env unset", []string{"genesys:", "  region: mypurecloud.com", "  client_id: abc", "  client_secret_env: GENESYS_CLIENT_SECRET", q1}, "bad.yaml:4: genesys.client_secret_env: environment variable GENESYS_CLIENT_SECRET is unset or empty"},
	{"client_secret_file missing", []string{"genesys:", "  region: mypurecloud.com", "  client_id: abc", "  client_secret_file: no-such-secret", q1}, "bad.yaml:4: genesys.client_secret_file: open testdata/no-such-secret: no such file or directory"},
	{"client_secret_file empty name", []string{"genesys:", "  region: mypurecloud.com", "  client_id: abc", `  client_secret_file: ""`, q1}, "bad.yaml:4: genesys.client_secret_file: must name a file"},

	// Stream.
	{"stream is a list", []string{q1, "stream: [a]"}, "bad.yaml:2: stream: must be a mapping, not a list"},
	{"unknown stream key", []string{q1, "stream:", "  wndow: 3"}, "bad.yaml:3: stream.wndow: unknown field"},
	{"allowed_origins is a string", []string{q1, "stream:", "  allowed_origins: '*.example.com'"}, `bad.yaml:3: stream.allowed_origins: must be a list, not "*.example.com"`},
	{"allowed origin is a mapping", []string{q1, "stream:", "  allowed_origins: [{host: a}]"}, "bad.yaml:3: stream.allowed_origins[0]: must be a string, not a mapping"},
	{"allowed origin bad pattern", []string{q1, "stream:", `  allowed_origins: ["*.example.com", "["]`}, `bad.yaml:3: stream.allowed_origins[1]: "[" is not a host pattern like *.example.com or https://app.example.com`},
	{"allowed origin empty", []string{q1, "stream:", `  allowed_origins: [""]`}, `bad.yaml:3: stream.allowed_origins[0]: "" is not a host pattern like *.example.com or https://app.example.com`},
	{"stream window zero", []string{q1, "stream:", "  window: 0"}, "bad.yaml:3: stream.window: must be from 1 to 10000"},
	{"stream window too big", []string{q1, "stream:", "  window: 10001"}, "bad.yaml:3: stream.window: must be from 1 to 10000"},
	{"stream window not an integer", []string{q1, "stream:", "  window: many"}, `bad.yaml:3: stream.window: "many" is not an integer`},
	{"slow_consumer_timeout zero", []string{q1, "stream:", "  slow_consumer_timeout: 0s"}, "bad.yaml:3: stream.slow_consumer_timeout: must be positive"},
	{"slow_consumer_timeout negative", []string{q1, "stream:", "  slow_consumer_timeout: -1s"}, "bad.yaml:3: stream.slow_consumer_timeout: -1s must not be negative"},
	{"max_frame_bytes small", []string{q1, "stream:", "  max_frame_bytes: 255"}, "bad.yaml:3: stream.max_frame_bytes: must be from 256 to 16777216"},
	{"max_frame_bytes big", []string{q1, "stream:", "  max_frame_bytes: 16777217"}, "bad.yaml:3: stream.max_frame_bytes: must be from 256 to 16777216"},
	{"max_frame_bytes not an integer", []string{q1, "stream:", "  max_frame_bytes: big"}, `bad.yaml:3: stream.max_frame_bytes: "big" is not an integer`},
	{"ring small", []string{q1, "stream:", "  ring: 63"}, "bad.yaml:3: stream.ring: must be from 64 to 1000000 events"},
	{"ring big", []string{q1, "stream:", "  ring: 1000001"}, "bad.yaml:3: stream.ring: must be from 64 to 1000000 events"},
	{"ring not an integer", []string{q1, "stream:", "  ring: lots"}, `bad.yaml:3: stream.ring: "lots" is not an integer`},
	{"max_subscriptions_per_client negative", []string{q1, "stream:", "  max_subscriptions_per_client: -1"}, "bad.yaml:3: stream.max_subscriptions_per_client: must be from 0 to 100000 (0: no cap)"},
	{"max_subscriptions_per_client is a list", []string{q1, "stream:", "  max_subscriptions_per_client: [20]"}, "bad.yaml:3: stream.max_subscriptions_per_client: must be an integer, not a list"},

	// Webhooks.
	{"webhooks is a list", []string{q1, "webhooks: [a]"}, "bad.yaml:2: webhooks: must be a mapping, not a list"},
	{"unknown webhooks key", []string{q1, "webhooks: {retries: 3}"}, "bad.yaml:2: webhooks.retries: unknown field"},
	{"allow_http not a bool", []string{q1, "webhooks: {allow_http: yes please}"}, "bad.yaml:2: webhooks.allow_http: must be true or false"},
	{"allow_http yes", []string{q1, "webhooks: {allow_http: yes}"}, "bad.yaml:2: webhooks.allow_http: must be true or false"},
	{"allow_private one", []string{q1, "webhooks: {allow_private: 1}"}, "bad.yaml:2: webhooks.allow_private: must be true or false"},
	{"webhooks timeout zero", []string{q1, "webhooks: {timeout: 0s}"}, "bad.yaml:2: webhooks.timeout: must be positive"},
	{"webhooks disable_after bad", []string{q1, "webhooks: {disable_after: never}"}, `bad.yaml:2: webhooks.disable_after: "never" is not a duration like 90s, 15m, 1h or 30d`},
	{"webhooks rotation_grace negative", []string{q1, "webhooks: {rotation_grace: -1h}"}, "bad.yaml:2: webhooks.rotation_grace: -1h must not be negative"},

	// Queues.
	{"no queues", []string{"listen: :8080"}, "bad.yaml: queues: at least one queue is required"},
	{"queues is a mapping", []string{"queues: {id: q1}"}, "bad.yaml:1: queues: must be a list, not a mapping"},
	{"queues empty", []string{"queues: []"}, "bad.yaml:1: queues: at least one queue is required"},
	{"queue is a string", []string{"queues: [q1]"}, `bad.yaml:1: queues[0]: must be a mapping, not "q1"`},
	{"unknown queue key", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capcity: 5"}, "bad.yaml:4: queues[0].capcity: unknown field"},
	{"queue without id", []string{"queues:", "  - timezone: UTC"}, "bad.yaml:2: queues[0].id: is required"},
	{"queue id bad", []string{"queues:", "  - id: queue 1", "    timezone: UTC"}, `bad.yaml:2: queues[0].id: "queue 1" must be 1 to 64 letters, digits, '_', '.' or '-'`},
	{"queue id empty", []string{"queues:", `  - id: ""`, "    timezone: UTC"}, `bad.yaml:2: queues[0].id: "" must be 1 to 64 letters, digits, '_', '.' or '-'`},
	{"queue id used twice", []string{"queues:", "  - id: q1", "    timezone: UTC", "  - timezone: UTC", "    id: q1"}, `bad.yaml:5: queues[1].id: "q1" is already used by queues[0]`},
	{"genesys_queue_id is a list", []string{"queues:", "  - id: q1", "    timezone: UTC", "    genesys_queue_id: [a]"}, "bad.yaml:4: queues[0].genesys_queue_id: must be a string, not a list"},
	{"name is a mapping", []string{"queues:", "  - id: q1", "    timezone: UTC", "    name: {en: Support}"}, "bad.yaml:4: queues[0].name: must be a string, not a mapping"},
	{"sms_from not E.164", []string{"queues:", "  - id: q1", "    timezone: UTC", `    sms_from: "800-555-0100"`}, `bad.yaml:4: queues[0].sms_from: "800-555-0100" is not an E.164 phone number like +14155550199`},
	{"sms_from is a list", []string{"queues:", "  - id: q1", "    timezone: UTC", "    sms_from: [+18005550100]"}, "bad.yaml:4: queues[0].sms_from: must be a string, not a list"},
	{"caller_id not E.164", []string{"queues:", "  - id: q1", "    timezone: UTC", "    caller_id: +0123456789"}, `bad.yaml:4: queues[0].caller_id: "+0123456789" is not an E.164 phone number like +14155550199`},
	{"caller_id_name too long", []string{"queues:", "  - id: q1", "    timezone: UTC", "    caller_id_name: " + strings.Repeat("x", 101)}, "bad.yaml:4: queues[0].caller_id_name: is 101 characters long; at most 100 are allowed"},
	{"caller_id_name is a list", []string{"queues:", "  - id: q1", "    timezone: UTC", "    caller_id_name: [a]"}, "bad.yaml:4: queues[0].caller_id_name: must be a string, not a list"},
	{"script_id is a list", []string{"queues:", "  - id: q1", "    timezone: UTC", "    script_id: [a]"}, "bad.yaml:4: queues[0].script_id: must be a string, not a list"},
	{"not_reached_wrapups is a string", []string{"queues:", "  - id: q1", "    timezone: UTC", "    not_reached_wrapups: voicemail"}, `bad.yaml:4: queues[0].not_reached_wrapups: must be a list, not "voicemail"`},
	{"not_reached_wrapups empty code", []string{"queues:", "  - id: q1", "    timezone: UTC", `    not_reached_wrapups: [voicemail, " "]`}, "bad.yaml:4: queues[0].not_reached_wrapups[1]: must not be empty (a wrap-up code id or name)"},
	{"queue locale not a tag", []string{"queues:", "  - id: q1", "    timezone: UTC", "    locale: klingon-please"}, `bad.yaml:4: queues[0].locale: "klingon-please" is not a BCP 47 language tag (like "en" or "fr-CA")`},
	{"not_reached_wrapups code twice", []string{"queues:", "  - id: q1", "    timezone: UTC", "    not_reached_wrapups:", "      - Voicemail", "      - voicemail"}, `bad.yaml:6: queues[0].not_reached_wrapups[1]: "voicemail" is listed twice`},
	{"not_reached_wrapups code is a list", []string{"queues:", "  - id: q1", "    timezone: UTC", "    not_reached_wrapups: [[a]]"}, "bad.yaml:4: queues[0].not_reached_wrapups[0]: must be a string, not a list"},
	{"schedule_group_id is a list", []string{"queues:", "  - id: q1", "    timezone: UTC", "    schedule_group_id: [a]"}, "bad.yaml:4: queues[0].schedule_group_id: must be a string, not a list"},
	{"schedule_group_id with hours", []string{"queues:", "  - id: q1", "    timezone: UTC", `    hours: {mon: ["08:00-12:00"]}`, "    schedule_group_id: sg-1"}, "bad.yaml:5: queues[0].schedule_group_id: cannot be given with hours (line 4): the opening hours come from the schedule group"},
	{"schedule_group_id with closed", []string{"queues:", "  - id: q1", "    timezone: UTC", "    schedule_group_id: sg-1", "    closed: [2026-12-25]"}, "bad.yaml:4: queues[0].schedule_group_id: cannot be given with closed (line 5): the opening hours come from the schedule group"},
	{"schedule_group_id with hours and closed", []string{"queues:", "  - id: q1", "    schedule_group_id: sg-1", "    timezone: UTC", "    closed: [2026-12-25]", "    hours: 24/7"}, "bad.yaml:3: queues[0].schedule_group_id: cannot be given with hours (line 6) or closed (line 5): the opening hours come from the schedule group"},
	{"no timezone", []string{"queues:", "  - id: q1", "    name: Support"}, "bad.yaml:2: queues[0].timezone: is required (an IANA zone like America/New_York)"},
	{"timezone unknown", []string{"queues:", "  - id: q1", "    timezone: Mars/Olympus"}, `bad.yaml:3: queues[0].timezone: "Mars/Olympus" is not a known IANA time zone`},
	{"timezone Local", []string{"queues:", "  - id: q1", "    timezone: Local"}, `bad.yaml:3: queues[0].timezone: "Local" is not a known IANA time zone`},
	{"timezone empty", []string{"queues:", "  - id: q1", `    timezone: ""`}, `bad.yaml:3: queues[0].timezone: "" is not a known IANA time zone`},
	{"timezone is a list", []string{"queues:", "  - id: q1", "    timezone: [UTC]"}, "bad.yaml:3: queues[0].timezone: must be a string, not a list"},
	{"slot_minutes", []string{"queues:", "  - id: q1", "    timezone: UTC", "    slot_minutes: 7"}, "bad.yaml:4: queues[0].slot_minutes: 7 is not one of 5, 10, 15, 20, 30, 60, 120"},
	{"slot_minutes not an integer", []string{"queues:", "  - id: q1", "    timezone: UTC", "    slot_minutes: quarter"}, `bad.yaml:4: queues[0].slot_minutes: "quarter" is not an integer`},
	{"capacity negative", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity: -1"}, "bad.yaml:4: queues[0].capacity: -1 must not be negative"},
	{"capacity not an integer", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity: ten"}, `bad.yaml:4: queues[0].capacity: "ten" is not an integer`},
	{"capacity is a mapping", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity: {n: 1}"}, "bad.yaml:4: queues[0].capacity: must be an integer, not a mapping"},
	{"capacity_overrides is a mapping", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides: {capacity: 1}"}, "bad.yaml:4: queues[0].capacity_overrides: must be a list, not a mapping"},
	{"override is a string", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides: [sat]"}, `bad.yaml:4: queues[0].capacity_overrides[0]: must be a mapping, not "sat"`},
	{"unknown override key", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {day: [sat], capacity: 1}"}, "bad.yaml:5: queues[0].capacity_overrides[0].day: unknown field"},
	{"override without capacity", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {days: [sat]}"}, "bad.yaml:5: queues[0].capacity_overrides[0].capacity: is required"},
	{"override capacity negative", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {days: [sat], capacity: -2}"}, "bad.yaml:5: queues[0].capacity_overrides[0].capacity: -2 must not be negative"},
	{"override matching everything", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {capacity: 3}"}, "bad.yaml:5: queues[0].capacity_overrides[0]: needs at least one of days, date and hours"},
	{"override days is a string", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {days: sat, capacity: 3}"}, `bad.yaml:5: queues[0].capacity_overrides[0].days: must be a list, not "sat"`},
	{"override day is a list", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {days: [[sat]], capacity: 3}"}, "bad.yaml:5: queues[0].capacity_overrides[0].days[0]: must be a string, not a list"},
	{"override day unknown", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {days: [sat, funday], capacity: 3}"}, `bad.yaml:5: queues[0].capacity_overrides[0].days[1]: "funday" is not a day (mon..sun)`},
	{"override range end unknown", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {days: [mon-fry], capacity: 3}"}, `bad.yaml:5: queues[0].capacity_overrides[0].days[0]: "fry" is not a day (mon..sun)`},
	{"override day twice in one spec", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", `      - {days: ["sat,sat"], capacity: 3}`}, "bad.yaml:5: queues[0].capacity_overrides[0].days[0]: sat is named twice"},
	{"override day twice", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {days: [mon-fri, wed], capacity: 3}"}, "bad.yaml:5: queues[0].capacity_overrides[0].days[1]: wed is named twice"},
	{"override days empty", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {days: [], capacity: 3}"}, "bad.yaml:5: queues[0].capacity_overrides[0].days: must name at least one day"},
	{"override date", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {date: 2026-02-30, capacity: 3}"}, `bad.yaml:5: queues[0].capacity_overrides[0].date: "2026-02-30" is not a date (YYYY-MM-DD)`},
	{"override hours", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", "      - {hours: 9-12, capacity: 3}"}, `bad.yaml:5: queues[0].capacity_overrides[0].hours: "9-12" is not an interval like 08:00-12:00`},
	{"override hours is a list", []string{"queues:", "  - id: q1", "    timezone: UTC", "    capacity_overrides:", `      - {hours: ["09:00-12:00"], capacity: 3}`}, "bad.yaml:5: queues[0].capacity_overrides[0].hours: must be a string, not a list"},
	{"hours is a list", []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours: [08:00-12:00]"}, "bad.yaml:4: queues[0].hours: must be 24/7 or a mapping from days to intervals, not a list"},
	{"hours is a string", []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours: 9-5"}, `bad.yaml:4: queues[0].hours: must be 24/7 or a mapping from days to intervals, not "9-5"`},
	{"hours day unknown", []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours:", `      mon-fry: ["08:00-12:00"]`}, `bad.yaml:5: queues[0].hours.mon-fry: "fry" is not a day (mon..sun)`},
	{"hours day named twice", []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours:", `      mon-fri: ["08:00-12:00"]`, `      wed: ["13:00-14:00"]`}, `bad.yaml:6: queues[0].hours.wed: wed is already named by "mon-fri" on line 5`},
	{"hours key given twice", []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours:", `      mon: ["08:00-12:00"]`, `      mon: ["13:00-14:00"]`}, "bad.yaml:6: queues[0].hours.mon: is given twice (first on line 5)"},
	{"hours value is a string", []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours:", `      mon: "08:00-12:00"`}, `bad.yaml:5: queues[0].hours.mon: must be a list, not "08:00-12:00"`},
	{"hours interval backwards", []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours:", `      mon: ["08:00-12:00", "18:00-17:00"]`}, `bad.yaml:5: queues[0].hours.mon[1]: "18:00-17:00" ends before it starts`},
	{"hours interval impossible", []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours:", `      mon: ["08:00-25:00"]`}, `bad.yaml:5: queues[0].hours.mon[0]: "08:00-25:00" has an impossible time`},
	{"hours interval is a list", []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours:", `      mon: [["08:00-12:00"]]`}, "bad.yaml:5: queues[0].hours.mon[0]: must be a string, not a list"},
	{"closed is a string", []string{"queues:", "  - id: q1", "    timezone: UTC", "    closed: 2026-12-25"}, `bad.yaml:4: queues[0].closed: must be a list, not "2026-12-25"`},
	{"closed date", []string{"queues:", "  - id: q1", "    timezone: UTC", "    closed: [2026-12-25, 2026-13-01]"}, `bad.yaml:4: queues[0].closed[1]: "2026-13-01" is not a date (YYYY-MM-DD)`},
	{"closed date is a list", []string{"queues:", "  - id: q1", "    timezone: UTC", "    closed: [[2026-12-25]]"}, "bad.yaml:4: queues[0].closed[0]: must be a string, not a list"},
	{"lead_time negative", []string{"queues:", "  - id: q1", "    timezone: UTC", "    lead_time: -15m"}, "bad.yaml:4: queues[0].lead_time: -15m must not be negative"},
	{"lead_time not a duration", []string{"queues:", "  - id: q1", "    timezone: UTC", "    lead_time: 15"}, `bad.yaml:4: queues[0].lead_time: "15" is not a duration like 90s, 15m, 1h or 30d`},
	{"lead_time past the horizon", []string{"queues:", "  - id: q1", "    timezone: UTC", "    lead_time: 2d", "    horizon: 1d"}, "bad.yaml:4: queues[0].lead_time: must be shorter than the horizon (1d)"},
	{"lead_time equal to the horizon", []string{"queues:", "  - id: q1", "    timezone: UTC", "    horizon: 36h", "    lead_time: 1d12h"}, "bad.yaml:5: queues[0].lead_time: must be shorter than the horizon (36h0m0s)"},
	{"lead_time past the default horizon", []string{"queues:", "  - id: q1", "    timezone: UTC", "    lead_time: 31d"}, "bad.yaml:4: queues[0].lead_time: must be shorter than the horizon (30d)"},
	{"horizon zero", []string{"queues:", "  - id: q1", "    timezone: UTC", "    horizon: 0d"}, "bad.yaml:4: queues[0].horizon: must be positive"},
	{"horizon not a duration", []string{"queues:", "  - id: q1", "    timezone: UTC", "    horizon: 30"}, `bad.yaml:4: queues[0].horizon: "30" is not a duration like 90s, 15m, 1h or 30d`},
	{"horizon days overflow", []string{"queues:", "  - id: q1", "    timezone: UTC", "    horizon: 106752d"}, `bad.yaml:4: queues[0].horizon: "106752d" is not a duration like 90s, 15m, 1h or 30d`},
	{"horizon days and hours overflow", []string{"queues:", "  - id: q1", "    timezone: UTC", "    horizon: 106751d24h"}, `bad.yaml:4: queues[0].horizon: "106751d24h" is not a duration like 90s, 15m, 1h or 30d`},
	{"horizon days and bad rest", []string{"queues:", "  - id: q1", "    timezone: UTC", "    horizon: 1dx"}, `bad.yaml:4: queues[0].horizon: "1dx" is not a duration like 90s, 15m, 1h or 30d`},
	{"horizon days and negative rest", []string{"queues:", "  - id: q1", "    timezone: UTC", "    horizon: 1d-1h"}, `bad.yaml:4: queues[0].horizon: "1d-1h" is not a duration like 90s, 15m, 1h or 30d`},
	{"horizon negative days", []string{"queues:", "  - id: q1", "    timezone: UTC", "    horizon: -2d"}, "bad.yaml:4: queues[0].horizon: -2d must not be negative"},
}

func TestGoldenErrors(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, tt := range goldenErrors {
		if seen[tt.name] {
			t.Fatalf("case %q is named twice", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Parse("bad.yaml", []byte(strings.Join(tt.yaml, "\n")), "testdata", goldenEnv)
			if err == nil {
				t.Fatalf("Parse() = %+v, want error %q", c, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse() error\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestGoldenLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		file string // in dir
		data string // written to file first unless ""
		want string // with DIR for dir
	}{
		{"missing file", "no-such.yaml", "", "DIR/no-such.yaml: no such file or directory"},
		{"a directory", "", "", "DIR: is a directory"},
		{"secret_file missing", "m.yaml", q1 + "\nclients:\n  - id: web\n    secret_file: nope\n    scopes: [callback:read]\n",
			"DIR/m.yaml:4: clients[0].secret_file: open DIR/nope: no such file or directory"},
		{"secret_file empty", "s.yaml", q1 + "\nclients:\n  - id: web\n    secret_file: empty\n    scopes: [callback:read]\n",
			"DIR/s.yaml:4: clients[0].secret_file: file empty is empty"},
		{"client_secret_file empty", "g.yaml", q1 + "\ngenesys:\n  region: mypurecloud.com\n  client_id: abc\n  client_secret_file: empty\n",
			"DIR/g.yaml:5: genesys.client_secret_file: file empty is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			if tt.data != "" {
				if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := config.Load(path, nil)
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if err == nil || err.Error() != want {
				t.Errorf("Load() error = %v, want %q", err, want)
			}
		})
	}
}

// goldenWarnings pins the exact warnings of configurations that are allowed
// but questionable, in the order they are given.
var goldenWarnings = []struct {
	name string
	yaml []string
	want []string
}{
	{"plain client secret", []string{q1, "clients:", "  - id: web", "    secret: 0123456789abcdef", "    scopes: [callback:read]"}, []string{
		"w.yaml:4: clients[0].secret: a plain secret in the config file is meant for tests; use secret_env or secret_file",
	}},
	{"long horizon", []string{"queues:", "  - id: q1", "    timezone: UTC", "    horizon: 31d"}, []string{
		"w.yaml:4: queues[0].horizon: 31d is more than 30 days; Genesys schedules callbacks at most 30 days ahead",
	}},
	{"hours name no days", []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours: {}"}, []string{
		"w.yaml:4: queues[0].hours: names no days, so the queue is never open",
	}},
	{"allow_private", []string{q1, "webhooks:", "  allow_private: true"}, []string{
		"w.yaml:3: webhooks.allow_private: deliveries may reach internal addresses (loopback, private networks, cloud metadata); meant for tests",
	}},
	{"sandbox ignores region and credentials", []string{"genesys:", "  mode: sandbox", "  region: mypurecloud.com",
		"  client_id_env: A", "  client_id: b", "  client_secret_env: C", "  client_secret_file: d", "  client_secret: e", q1}, []string{
		"w.yaml:3: genesys.region: is ignored in sandbox mode, which runs the built-in simulator",
		"w.yaml:4: genesys.client_id_env: is ignored in sandbox mode, which runs the built-in simulator",
		"w.yaml:5: genesys.client_id: is ignored in sandbox mode, which runs the built-in simulator",
		"w.yaml:6: genesys.client_secret_env: is ignored in sandbox mode, which runs the built-in simulator",
		"w.yaml:7: genesys.client_secret_file: is ignored in sandbox mode, which runs the built-in simulator",
		"w.yaml:8: genesys.client_secret: is ignored in sandbox mode, which runs the built-in simulator",
	}},
	{"sandbox ignores urls", []string{"genesys:", "  login_url: https://login.example.com", "  api_url: https://api.example.com", q1}, []string{
		"w.yaml:3: genesys.api_url: is ignored in sandbox mode, which runs the built-in simulator",
		"w.yaml:2: genesys.login_url: is ignored in sandbox mode, which runs the built-in simulator",
	}},
	{"live ignores sandbox, plain secret", []string{"genesys:", "  sandbox: {speed: 2}", "  region: mypurecloud.com", "  client_id_env: GC_ID", "  client_secret: hunter2", q1}, []string{
		"w.yaml:2: genesys.sandbox: is ignored in live mode",
		"w.yaml:5: genesys.client_secret: a plain secret in the config file is meant for tests; use client_secret_env or client_secret_file",
	}},
	{"all at once", []string{
		"webhooks: {allow_private: true}",
		"clients:", "  - id: web", "    secret: 0123456789abcdef", "    scopes: [callback:read]",
		"genesys: {mode: sandbox, region: mypurecloud.com}",
		"queues:", "  - id: q1", "    timezone: UTC", "    hours: {}", "    horizon: 40d",
		"  - id: q2", "    timezone: UTC", "    horizon: 50d",
	}, []string{
		"w.yaml:4: clients[0].secret: a plain secret in the config file is meant for tests; use secret_env or secret_file",
		"w.yaml:6: genesys.region: is ignored in sandbox mode, which runs the built-in simulator",
		"w.yaml:1: webhooks.allow_private: deliveries may reach internal addresses (loopback, private networks, cloud metadata); meant for tests",
		"w.yaml:10: queues[0].hours: names no days, so the queue is never open",
		"w.yaml:11: queues[0].horizon: 40d is more than 30 days; Genesys schedules callbacks at most 30 days ahead",
		"w.yaml:14: queues[1].horizon: 50d is more than 30 days; Genesys schedules callbacks at most 30 days ahead",
	}},
	{"none", []string{"queues:", "  - id: q1", "    timezone: UTC", "    hours:", "    horizon: 30d"}, nil},
}

func TestGoldenWarnings(t *testing.T) {
	t.Parallel()
	for _, tt := range goldenWarnings {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Parse("w.yaml", []byte(strings.Join(tt.yaml, "\n")), "testdata", goldenEnv)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Warnings); diff != "" {
				t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
