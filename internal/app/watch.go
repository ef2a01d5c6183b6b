package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/streamclient"
)

// watch prints the event stream live, acknowledges each event, and resumes
// after a drop.
func watch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	setUsage(fs, "watch [--url URL] [--client-id ID --client-secret-env NAME] [flags]", "Prints the event stream live: one line per event, acknowledged, resuming after a drop.")
	url := fs.String("url", first(getenv("SLOTLINE_URL"), "http://127.0.0.1:8080"), "Slotline's base URL (env SLOTLINE_URL)")
	id := fs.String("client-id", getenv("SLOTLINE_CLIENT_ID"), "API client id (env SLOTLINE_CLIENT_ID; required)")
	secretEnv := fs.String("client-secret-env", "SLOTLINE_CLIENT_SECRET", "environment variable holding the client secret")
	sub := fs.String("subscription", "", "durable subscription name: resume where the last run stopped (default none: start at --after)")
	after := fs.Int64("after", -1, "start after this sequence number (-1: new events, or the subscription's cursor)")
	queues := fs.String("queue", "", "only these queues, comma-separated (default all)")
	types := fs.String("type", "", "only these event types, comma-separated (default all)")
	jsonOut := fs.Bool("json", false, "print one JSON event per line")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	secret := getenv(*secretEnv)
	if *id == "" || secret == "" {
		return &usageError{"watch needs --client-id (or SLOTLINE_CLIENT_ID) and the secret in $" + *secretEnv}
	}
	cc := clientcredentials.Config{ClientID: *id, ClientSecret: secret, TokenURL: strings.TrimRight(*url, "/") + "/oauth/token",
		Scopes: []string{"callback:read"}, AuthStyle: oauth2.AuthStyleInHeader}
	src := oauth2.ReuseTokenSourceWithExpiry(nil, cc.TokenSource(ctx), 30*time.Second)
	o := streamclient.Options{
		URL: *url, Subscription: *sub, After: *after, Queues: splitComma(*queues), Types: splitComma(*types),
		Token: func(context.Context) (string, error) {
			t, err := src.Token()
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.Response != nil &&
				(re.Response.StatusCode == http.StatusBadRequest || re.Response.StatusCode == http.StatusUnauthorized) {
				// Wrong credentials or scope: asking again will not help.
				return "", streamclient.Permanent(err)
			}
			if err != nil {
				return "", err
			}
			return t.AccessToken, nil
		},
	}
	enc := json.NewEncoder(stdout)
	handle := func(ev *reservation.Event) error {
		if *jsonOut {
			return enc.Encode(ev)
		}
		_, err := io.WriteString(stdout, eventLine(ev))
		return err
	}
	notice := func(n *streamclient.Notice) {
		fmt.Fprintf(stderr, "-- %s %s\n", n.Notice, n.Detail)
	}
	return streamclient.Watch(ctx, o, handle, notice)
}

// eventLine is an event as watch prints it: the reservation's queue, slot,
// status and sync state for reservation.* events; the endpoint, delivery
// and reason for the events about webhooks (webhook.ping, webhook.disabled,
// delivery.exhausted), which carry no reservation; and what there is for a
// type this version does not know.
func eventLine(ev *reservation.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s", ev.Seq, ev.OccurredAt.Local().Format("15:04:05"), ev.Type)
	switch r, w := ev.Reservation, ev.Webhook; {
	case r != nil:
		fmt.Fprintf(&b, " %s %s %s %s sync=%s", ev.ReservationID, r.QueueID, r.Slot.Start.Format(time.RFC3339), r.Status, r.Sync.State)
	case w != nil:
		fmt.Fprintf(&b, " endpoint=%s", w.EndpointID)
		if w.DeliveryID != "" {
			fmt.Fprintf(&b, " delivery=%s", w.DeliveryID)
		}
		if w.EventSeq != 0 {
			fmt.Fprintf(&b, " event=#%d", w.EventSeq)
		}
		if w.Reason != "" {
			fmt.Fprintf(&b, " reason=%q", w.Reason)
		}
	default:
		for _, s := range []string{ev.ReservationID, ev.QueueID} {
			if s != "" {
				b.WriteString(" " + s)
			}
		}
	}
	fmt.Fprintf(&b, " (%s)\n", ev.Origin)
	return b.String()
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
