package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/config"
)

// argonHash is a valid argon2id hash (of "pw", small parameters).
const argonHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$4k7yS3pmJ9pY6H2V0b0H6w"

// bcryptHash is a valid bcrypt hash of "pw".
const bcryptHash = "$2a$04$0Ud7iZ1C2v9HzJ2M9kX3EeZB2a8Y8m1l1q2l1W3h7C5E5F5G5H5I6"

func TestOperators(t *testing.T) {
	t.Parallel()
	doc := strings.Join([]string{
		"queues: [{id: q1, timezone: UTC}, {id: q2, timezone: UTC}]",
		"operators:",
		"  - {username: ada, password_hash: '" + argonHash + "', role: supervisor, queues: [q2]}",
		"  - {username: bob, password_hash: '" + bcryptHash + "', role: viewer}",
		"console:",
		"  session_idle: 10m",
		"  roles: {admin: [Slotline Admin], viewer: [Everyone]}",
	}, "\n")
	c, err := config.Parse("ok.yaml", []byte(doc), "", env())
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Operator{
		{Username: "ada", PasswordHash: argonHash, Role: "supervisor", Queues: []string{"q2"}},
		{Username: "bob", PasswordHash: bcryptHash, Role: "viewer"},
	}
	if d := cmp.Diff(want, c.Operators); d != "" {
		t.Errorf("operators (-want +got):\n%s", d)
	}
	wantConsole := config.Console{SessionIdle: 10 * time.Minute, SessionMax: 12 * time.Hour,
		Roles: map[string][]string{"admin": {"Slotline Admin"}, "viewer": {"Everyone"}}}
	if d := cmp.Diff(wantConsole, c.Console); d != "" {
		t.Errorf("console (-want +got):\n%s", d)
	}
}

func TestOperatorErrors(t *testing.T) {
	t.Parallel()
	const q = "queues: [{id: q1, timezone: UTC}]"
	for _, tt := range []struct {
		name string
		yaml []string
		want string
	}{
		{"plain password", []string{q, "operators:", "  - {username: ada, password_hash: hunter2, role: admin}"},
			"bad.yaml:3: operators[0].password_hash: not an argon2id ($argon2id$v=19$m=…,t=…,p=…$salt$hash) or bcrypt ($2a$, $2b$) hash; make one with: slotline operator hash"},
		{"argon2i", []string{q, "operators:", "  - username: ada", "    role: admin", "    password_hash: '$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$4k7yS3pmJ9pY6H2V0b0H6w'"},
			"bad.yaml:5: operators[0].password_hash: not an argon2id ($argon2id$v=19$m=…,t=…,p=…$salt$hash) or bcrypt ($2a$, $2b$) hash: only the argon2id variant is accepted; make one with: slotline operator hash"},
		{"unknown role", []string{q, "operators:", "  - {username: ada, password_hash: '" + argonHash + "', role: root}"},
			`bad.yaml:3: operators[0].role: "root" is not one of viewer, supervisor, admin`},
		{"unknown queue", []string{q, "operators:", "  - {username: ada, password_hash: '" + argonHash + "', role: admin, queues: [q9]}"},
			`bad.yaml:3: operators[0].queues[0]: "q9" is not the id of a queue`},
		{"no username", []string{q, "operators:", "  - {password_hash: '" + argonHash + "', role: admin}"},
			"bad.yaml:3: operators[0].username: is required"},
		{"username twice", []string{q, "operators:", "  - {username: ada, password_hash: '" + argonHash + "', role: admin}",
			"  - {username: ada, password_hash: '" + argonHash + "', role: viewer}"},
			`bad.yaml:4: operators[1].username: "ada" is already used by operators[0]`},
		{"unknown field", []string{q, "operators:", "  - {username: ada, password: x, role: admin}"},
			"bad.yaml:3: operators[0].password: unknown field"},
		{"idle beyond max", []string{q, "console: {session_idle: 2h, session_max: 1h}"},
			"bad.yaml:2: console.session_idle: must not be longer than session_max (1h0m0s)"},
		{"unknown role mapping", []string{q, "console:", "  roles: {owner: [x]}"},
			"bad.yaml:3: console.roles.owner: unknown field"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("bad.yaml", []byte(strings.Join(tt.yaml, "\n")), "", nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse() error\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}
