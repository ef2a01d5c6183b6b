package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/config"

	"github.com/slotline/slotline/internal/reservation"
)

// qa is the start of a queue whose admission keys the cases add.
var qa = []string{"queues:", "  - id: q1", "    timezone: UTC"}

// goldenAdmissionErrors pins each error of a queue's number_rules,
// duplicates, duplicates_scope and throttle.
var goldenAdmissionErrors = []struct {
	name string
	yaml []string // after qa
	want string
}{
	{"number_rules is a list", []string{"    number_rules: [US]"}, "bad.yaml:4: queues[0].number_rules: must be a mapping, not a list"},
	{"number_rules unknown key", []string{"    number_rules: {allow: [US]}"}, "bad.yaml:4: queues[0].number_rules.allow: unknown field"},
	{"country unknown", []string{"    number_rules:", "      countries: [US, XX]"}, `bad.yaml:5: queues[0].number_rules.countries[1]: "XX" is not an ISO 3166 region with phone numbers, like US, CA or GB`},
	{"country lower case", []string{"    number_rules: {countries: [gb]}"}, `bad.yaml:4: queues[0].number_rules.countries[0]: "gb" is not an ISO 3166 region with phone numbers, like US, CA or GB`},
	{"country twice", []string{"    number_rules: {countries: [GB, US, GB]}"}, `bad.yaml:4: queues[0].number_rules.countries[2]: "GB" is already given at queues[0].number_rules.countries[0]`},
	{"countries not a list", []string{"    number_rules: {countries: US}"}, `bad.yaml:4: queues[0].number_rules.countries: must be a list, not "US"`},
	{"block without plus", []string{"    number_rules: {block: ['1900']}"}, `bad.yaml:4: queues[0].number_rules.block[0]: "1900" is not a number prefix like +1900 or "+44 9"`},
	{"block with letters", []string{"    number_rules: {block: ['+44 9x']}"}, `bad.yaml:4: queues[0].number_rules.block[0]: "+44 9x" is not a number prefix like +1900 or "+44 9"`},
	{"block plus alone", []string{"    number_rules: {block: ['+ ']}"}, `bad.yaml:4: queues[0].number_rules.block[0]: "+ " is not a number prefix like +1900 or "+44 9"`},
	{"block twice after normalisation", []string{"    number_rules: {block: ['+44 9', '+449']}"}, `bad.yaml:4: queues[0].number_rules.block[1]: "+449" is already given at queues[0].number_rules.block[0]`},
	{"refuse_types unknown", []string{"    number_rules: {refuse_types: [premium]}"}, `bad.yaml:4: queues[0].number_rules.refuse_types[0]: "premium" is not one of pager, personal, premium_rate, shared_cost, toll_free, uan, unknown, voip`},
	{"duplicates unknown", []string{"    duplicates: sometimes"}, `bad.yaml:4: queues[0].duplicates: "sometimes" is not one of off, lenient, strict`},
	{"duplicates off unquoted", []string{"    duplicates_scope: queues"}, `bad.yaml:4: queues[0].duplicates_scope: "queues" is not one of queue, all`},
	{"throttle is a string", []string{"    throttle: 6/24h"}, `bad.yaml:4: queues[0].throttle: must be a mapping, not "6/24h"`},
	{"throttle unknown key", []string{"    throttle: {per_client: 6/24h}"}, "bad.yaml:4: queues[0].throttle.per_client: unknown field"},
	{"throttle without window", []string{"    throttle:", "      per_number: 6"}, `bad.yaml:5: queues[0].throttle.per_number: "6" is not a count over a window like 6/24h or 500/1h`},
	{"throttle rate unit", []string{"    throttle: {per_queue: 500/h}"}, `bad.yaml:4: queues[0].throttle.per_queue: "500/h" is not a count over a window like 6/24h or 500/1h`},
	{"throttle zero", []string{"    throttle: {per_number: 0/1h}"}, `bad.yaml:4: queues[0].throttle.per_number: "0/1h": the count must be from 1 to 1000000`},
	{"throttle fraction", []string{"    throttle: {per_number: 1.5/1h}"}, `bad.yaml:4: queues[0].throttle.per_number: "1.5/1h" is not a count over a window like 6/24h or 500/1h`},
	{"throttle window too short", []string{"    throttle: {per_number: 3/10ms}"}, `bad.yaml:4: queues[0].throttle.per_number: "3/10ms": the window must be from 1s to 31d`},
	{"throttle window too long", []string{"    throttle: {per_queue: 3/32d}"}, `bad.yaml:4: queues[0].throttle.per_queue: "3/32d": the window must be from 1s to 31d`},
}

func TestGoldenAdmissionErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range goldenAdmissionErrors {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(append(append([]string{}, qa...), tt.yaml...))
			if err == nil {
				t.Fatalf("Parse() succeeded, want error %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse() error\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestAdmissionSettings(t *testing.T) {
	t.Parallel()
	c, err := parse(append(append([]string{}, qa...),
		"    number_rules:",
		`      block: ["+44 9", "+1 (900)", +1976]`,
		"      refuse_types: []",
		"    duplicates: off",
		"    throttle: {per_number: 3/1h}"))
	if err != nil {
		t.Fatal(err)
	}
	q := c.Queues[0]
	want := reservation.NumberRules{Block: []string{"+449", "+1900", "+1976"}, RefuseTypes: []string{}}
	if diff := cmp.Diff(want, q.NumberRules); diff != "" {
		t.Errorf("NumberRules (-want +got):\n%s", diff)
	}
	wantA := reservation.Admission{Duplicates: "off", Scope: "queue", PerNumber: reservation.Limit{N: 3, Window: time.Hour}}
	if diff := cmp.Diff(wantA, q.Admission); diff != "" {
		t.Errorf("Admission (-want +got):\n%s", diff)
	}
	if got := q.NumberRules.Check("+449098790000"); got == nil || !strings.Contains(got.Error(), "blocked prefix +449") {
		t.Errorf("Check(+449…) = %v, want blocked prefix +449", got)
	}
}

func parse(lines []string) (*config.Config, error) {
	return config.Parse("bad.yaml", []byte(strings.Join(lines, "\n")), "testdata", goldenEnv)
}
