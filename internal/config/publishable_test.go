package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/config"
)

// keyEnv is the environment of the publishable key cases.
var keyEnv = env("WIDGET_KEY", "pk_test_0123456789abcdefghij", "OTHER_KEY", "pk_test_ZYXWVUTSRQPONMLKJIHG",
	"SHORT_KEY", "pk_short", "SECRET_KEY", "sk_test_0123456789abcdefghij", "SPACE_KEY", "pk_test_0123456789 abcdefghij",
	"WEB_SECRET", "0123456789abcdef")

// qk is a queues block the keys name.
var qk = []string{"queues: [{id: q1, timezone: UTC}, {id: q2, timezone: UTC}]"}

// goldenKeyErrors pins each error of publishable_keys and proof_of_work.
var goldenKeyErrors = []struct {
	name string
	yaml []string // after qk
	want string
}{
	{"not a list", []string{"publishable_keys: {id: w}"}, "bad.yaml:2: publishable_keys: must be a list, not a mapping"},
	{"unknown field", []string{"publishable_keys:", "  - {id: w, key: pk_x}"}, "bad.yaml:3: publishable_keys[0].key: unknown field"},
	{"no id", []string{"publishable_keys:", "  - {key_env: WIDGET_KEY, queues: [q1], origins: ['https://a.example']}"}, "bad.yaml:3: publishable_keys[0].id: is required"},
	{"no key", []string{"publishable_keys:", "  - {id: w, queues: [q1], origins: ['https://a.example']}"}, "bad.yaml:3: publishable_keys[0]: one of key_env or key_file is required"},
	{"both key sources", []string{"publishable_keys:", "  - id: w", "    key_env: WIDGET_KEY", "    key_file: pk.txt"}, "bad.yaml:5: publishable_keys[0].key_file: give only one of key_env and key_file"},
	{"key unset", []string{"publishable_keys:", "  - {id: w, key_env: NOPE}"}, "bad.yaml:3: publishable_keys[0].key_env: environment variable NOPE is unset or empty"},
	{"key without pk_", []string{"publishable_keys:", "  - {id: w, key_env: SECRET_KEY}"}, "bad.yaml:3: publishable_keys[0].key_env: the key must start with pk_"},
	{"key too short", []string{"publishable_keys:", "  - {id: w, key_env: SHORT_KEY}"}, "bad.yaml:3: publishable_keys[0].key_env: the key must be at least 24 characters, pk_ included"},
	{"key with a space", []string{"publishable_keys:", "  - {id: w, key_env: SPACE_KEY}"}, "bad.yaml:3: publishable_keys[0].key_env: the key must be at most 200 printable ASCII characters without spaces"},
	{"no queues", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, origins: ['https://a.example']}"}, "bad.yaml:3: publishable_keys[0].queues: at least one queue is required"},
	{"empty queues", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [], origins: ['https://a.example']}"}, "bad.yaml:3: publishable_keys[0].queues: at least one queue is required"},
	{"unknown queue", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1, q9]}"}, `bad.yaml:3: publishable_keys[0].queues[1]: "q9" is not the id of a queue`},
	{"queue twice", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q2, q2]}"}, `bad.yaml:3: publishable_keys[0].queues[1]: "q2" is already given at publishable_keys[0].queues[0]`},
	{"no origins", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1]}"}, "bad.yaml:3: publishable_keys[0].origins: at least one origin is required"},
	{"origin with a path", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['https://a.example/shop']}"}, `bad.yaml:3: publishable_keys[0].origins[0]: "https://a.example/shop" is not an origin like https://www.example.com or http://localhost:8080 (scheme, host and port only)`},
	{"origin with a slash", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['https://a.example/']}"}, `bad.yaml:3: publishable_keys[0].origins[0]: "https://a.example/" is not an origin like https://www.example.com or http://localhost:8080 (scheme, host and port only)`},
	{"origin without scheme", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: [a.example]}"}, `bad.yaml:3: publishable_keys[0].origins[0]: "a.example" is not an origin like https://www.example.com or http://localhost:8080 (scheme, host and port only)`},
	{"origin wildcard", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['https://*.example.com']}"}, `bad.yaml:3: publishable_keys[0].origins[0]: "https://*.example.com" is not an origin like https://www.example.com or http://localhost:8080 (scheme, host and port only)`},
	{"origin star", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['*']}"}, `bad.yaml:3: publishable_keys[0].origins[0]: "*" is not an origin like https://www.example.com or http://localhost:8080 (scheme, host and port only)`},
	{"origin ftp", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['ftp://a.example']}"}, `bad.yaml:3: publishable_keys[0].origins[0]: "ftp://a.example" is not an origin like https://www.example.com or http://localhost:8080 (scheme, host and port only)`},
	{"origin with user", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['https://u@a.example']}"}, `bad.yaml:3: publishable_keys[0].origins[0]: "https://u@a.example" is not an origin like https://www.example.com or http://localhost:8080 (scheme, host and port only)`},
	{"origin with query", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['https://a.example?x=1']}"}, `bad.yaml:3: publishable_keys[0].origins[0]: "https://a.example?x=1" is not an origin like https://www.example.com or http://localhost:8080 (scheme, host and port only)`},
	{"origin twice after canonical form", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['https://A.example', 'https://a.example:443']}"}, `bad.yaml:3: publishable_keys[0].origins[1]: "https://a.example" is already given at publishable_keys[0].origins[0]`},
	{"rate", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['https://a.example'], rate: fast}"}, `bad.yaml:3: publishable_keys[0].rate: "fast" is not a rate like 50/s, 100/min or 1000/h`},
	{"burst", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['https://a.example'], per_address_burst: 0}"}, "bad.yaml:3: publishable_keys[0].per_address_burst: must be from 1 to 100000"},
	{"id twice", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['https://a.example']}",
		"  - {id: w, key_env: OTHER_KEY, queues: [q1], origins: ['https://a.example']}"}, `bad.yaml:4: publishable_keys[1].id: "w" is already used by publishable_keys[0]`},
	{"key twice", []string{"publishable_keys:", "  - {id: w, key_env: WIDGET_KEY, queues: [q1], origins: ['https://a.example']}",
		"  - {id: v, key_env: WIDGET_KEY, queues: [q1], origins: ['https://a.example']}"}, "bad.yaml:4: publishable_keys[1]: the key is the one of publishable_keys[0] too; every key must be its own"},
	{"id of a client", []string{"clients: [{id: web, secret_env: WEB_SECRET, scopes: [callback:read]}]", "publishable_keys:",
		"  - {id: web, key_env: WIDGET_KEY, queues: [q1], origins: ['https://a.example']}"}, `bad.yaml:4: publishable_keys[0].id: "web" is the id of clients[0]; the key's reservations would be that client's`},
	{"proof_of_work not a mapping", []string{"proof_of_work: 50000"}, `bad.yaml:2: proof_of_work: must be a mapping, not "50000"`},
	{"proof_of_work unknown", []string{"proof_of_work: {cost: 3}"}, "bad.yaml:2: proof_of_work.cost: unknown field"},
	{"max_number negative", []string{"proof_of_work: {max_number: -1}"}, "bad.yaml:2: proof_of_work.max_number: must be from 0 to 10000000 (0: off)"},
	{"max_number too big", []string{"proof_of_work: {max_number: 10000001}"}, "bad.yaml:2: proof_of_work.max_number: must be from 0 to 10000000 (0: off)"},
	{"ttl zero", []string{"proof_of_work: {ttl: 0s}"}, "bad.yaml:2: proof_of_work.ttl: must be positive"},
}

func TestGoldenKeyErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range goldenKeyErrors {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("bad.yaml", []byte(strings.Join(append(append([]string{}, qk...), tt.yaml...), "\n")), "testdata", keyEnv)
			if err == nil {
				t.Fatalf("Parse() succeeded, want error %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse() error\n got %q\nwant %q", got, tt.want)
			}
			if strings.Contains(err.Error(), "0123456789abcdefghij") {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
}

func TestPublishableKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pk.txt"), []byte("pk_from_a_file_0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := strings.Join(append(append([]string{}, qk...),
		"publishable_keys:",
		"  - {id: w, key_env: WIDGET_KEY, queues: [q1, q2], origins: ['https://a.example', 'http://[::1]:8080']}",
		"  - {id: v, key_file: pk.txt, queues: [q2], origins: ['https://b.example'], rate: off, per_address: 1/s}",
	), "\n")
	c, err := config.Parse("t.yaml", []byte(data), dir, keyEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []config.PublishableKey{
		{ID: "w", Key: "pk_test_0123456789abcdefghij", Queues: []string{"q1", "q2"}, Origins: []string{"https://a.example", "http://[::1]:8080"},
			Rate: 50, Burst: 100, PerAddress: 5, PerAddressBurst: 20},
		{ID: "v", Key: "pk_from_a_file_0123456789", Queues: []string{"q2"}, Origins: []string{"https://b.example"},
			Rate: 0, Burst: 100, PerAddress: 1, PerAddressBurst: 20},
	}
	if diff := cmp.Diff(want, c.PublishableKeys); diff != "" {
		t.Errorf("PublishableKeys (-want +got):\n%s", diff)
	}
	if c.ProofOfWork != (config.ProofOfWork{MaxNumber: 50000, TTL: 5 * time.Minute, PerAddress: 5, PerAddressBurst: 20}) {
		t.Errorf("default proof_of_work = %+v", c.ProofOfWork)
	}
	for _, s := range []string{c.PublishableKeys[0].String(), c.PublishableKeys[0].GoString()} {
		if strings.Contains(s, "0123456789abcdefghij") {
			t.Errorf("%q shows the key", s)
		}
	}
	c, err = config.Parse("t.yaml", []byte(qk[0]+"\nproof_of_work: {max_number: 0}"), dir, keyEnv)
	if err != nil || c.ProofOfWork.MaxNumber != 0 || c.ProofOfWork.TTL != 5*time.Minute {
		t.Errorf("proof_of_work off: %+v, %v", c.ProofOfWork, err)
	}
}
