package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/config"
)

func TestGenesysConsoleClient(t *testing.T) {
	t.Parallel()
	getenv := env("GC_SECRET", "service-secret-1", "GC_CONSOLE_SECRET", "console-secret-2", "EMPTY", "")
	parse := func(t *testing.T, lines ...string) (*config.Config, error) {
		t.Helper()
		lines = append(lines, "queues: [{id: q1, timezone: UTC}]")
		return config.Parse("test.yaml", []byte(strings.Join(lines, "\n")), "", getenv)
	}
	live := []string{"genesys:", "  region: mypurecloud.ie", "  client_id: service-client", "  client_secret_env: GC_SECRET"}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c, err := parse(t, append(live, "  console_client_id: console-client", "  console_client_secret_env: GC_CONSOLE_SECRET")...)
		if err != nil {
			t.Fatal(err)
		}
		g := c.Genesys
		if g.ConsoleClientID != "console-client" || g.ConsoleClientSecret != "console-secret-2" || g.LoginURL != "https://login.mypurecloud.ie" {
			t.Errorf("Genesys = %#v", g)
		}
		for _, s := range []string{g.String(), fmt.Sprintf("%#v", g), fmt.Sprintf("%v", g)} {
			if strings.Contains(s, "console-secret-2") || strings.Contains(s, "service-secret-1") {
				t.Errorf("a secret is printed: %s", s)
			}
		}
		if !strings.Contains(fmt.Sprintf("%#v", g), `ConsoleClientID:"console-client", ConsoleClientSecret:"<redacted>"`) {
			t.Errorf("GoString = %#v", g)
		}
	})

	t.Run("Absent", func(t *testing.T) {
		t.Parallel()
		c, err := parse(t, live...)
		if err != nil {
			t.Fatal(err)
		}
		if g := c.Genesys; g.ConsoleClientID != "" || g.ConsoleClientSecret != "" || !strings.Contains(fmt.Sprintf("%#v", g), `ConsoleClientSecret:""`) {
			t.Errorf("Genesys = %#v", g)
		}
	})

	t.Run("IgnoredInSandbox", func(t *testing.T) {
		t.Parallel()
		c, err := parse(t, "genesys:", "  mode: sandbox", "  console_client_id: console-client", "  console_client_secret_env: UNSET")
		if err != nil {
			t.Fatal(err)
		}
		if g := c.Genesys; g.ConsoleClientID != "" || g.ConsoleClientSecret != "" || g.Mode != "sandbox" {
			t.Errorf("Genesys = %#v", g)
		}
		want := []string{
			"test.yaml:3: genesys.console_client_id: is ignored in sandbox mode, which runs the built-in simulator",
			"test.yaml:4: genesys.console_client_secret_env: is ignored in sandbox mode, which runs the built-in simulator",
		}
		if diff := cmp.Diff(want, c.Warnings); diff != "" {
			t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("NotLiveByItself", func(t *testing.T) {
		t.Parallel()
		c, err := parse(t, "genesys:", "  region: mypurecloud.ie", "  console_client_id: console-client", "  console_client_secret_env: GC_CONSOLE_SECRET")
		if err != nil {
			t.Fatal(err)
		}
		if c.Genesys.Mode != "sandbox" || c.Genesys.ConsoleClientID != "" {
			t.Errorf("Genesys = %#v", c.Genesys)
		}
	})

	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"ErrIDWithoutSecret", []string{"  console_client_id: console-client"},
			"test.yaml:5: genesys.console_client_secret_env: is required when console_client_id is given"},
		{"ErrSecretWithoutID", []string{"  console_client_secret_env: GC_CONSOLE_SECRET"},
			"test.yaml:5: genesys.console_client_id: is required when console_client_secret_env is given"},
		{"ErrUnsetSecret", []string{"  console_client_id: console-client", "  console_client_secret_env: UNSET_VAR"},
			"test.yaml:6: genesys.console_client_secret_env: environment variable UNSET_VAR is unset or empty"},
		{"ErrEmptySecret", []string{"  console_client_id: console-client", "  console_client_secret_env: EMPTY"},
			"test.yaml:6: genesys.console_client_secret_env: environment variable EMPTY is unset or empty"},
		{"ErrEmptyEnvName", []string{"  console_client_id: console-client", `  console_client_secret_env: ""`},
			"test.yaml:6: genesys.console_client_secret_env: must name an environment variable"},
		{"ErrEmptyID", []string{`  console_client_id: ""`, "  console_client_secret_env: GC_CONSOLE_SECRET"},
			"test.yaml:5: genesys.console_client_id: must not be empty"},
		{"ErrSameClient", []string{"  console_client_id: service-client", "  console_client_secret_env: GC_CONSOLE_SECRET"},
			"test.yaml:5: genesys.console_client_id: must be another OAuth client than client_id: the console's is of grant type Code Authorization, the service's of client credentials"},
		{"ErrIDNotAString", []string{"  console_client_id: [a, b]", "  console_client_secret_env: GC_CONSOLE_SECRET"},
			"test.yaml:5: genesys.console_client_id:"},
		{"ErrTypo", []string{"  console_client_secret: x"},
			"test.yaml:5: genesys.console_client_secret: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(t, append(append([]string{}, live...), tc.lines...)...)
			var ce *config.Error
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Parse() error = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "console-secret-2") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
