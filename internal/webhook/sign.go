// SPDX-License-Identifier: Apache-2.0

// Package webhook sends every reservation change to the endpoints that
// subscribed to it, the way Standard Webhooks describes: each matching
// event becomes a delivery in the event's own transaction; deliveries to an
// endpoint go out one at a time in event order, signed (webhook-id,
// webhook-timestamp, webhook-signature), with retries on a schedule of
// about three days; 410 disables the endpoint, and so do five days of
// failures. Endpoints may take iCalendar objects instead of JSON.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// NewSecret returns a new signing secret: whsec_ and 24 random bytes in
// base64.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey returns the bytes a secret signs with (the base64 after the
// prefix).
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("webhook secret is not base64: %w", err)
	}
	return key, nil
}

// Sign returns the v1 signature of a message: "v1," and the base64
// HMAC-SHA256 of "id.timestamp.body" keyed with the secret's bytes.
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SignatureHeader returns the webhook-signature value: one signature per
// secret in use, space-separated (two during a rotation's grace period).
func SignatureHeader(secrets []string, id string, timestamp int64, body []byte) (string, error) {
	var out []string
	for _, s := range secrets {
		sig, err := Sign(s, id, timestamp, body)
		if err != nil {
			return "", err
		}
		out = append(out, sig)
	}
	return strings.Join(out, " "), nil
}
