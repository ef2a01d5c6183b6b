package httpapi

import (
	"net/http"

	"github.com/slotline/slotline/internal/reservation"
)

// The problem types of a create refused by its queue's admission rules
// (number_rules, duplicates, throttle); a throttled create also gets
// Retry-After (problem.go).
func init() {
	problemTypes[reservation.ENUMBERNOTALLOWED] = struct {
		status int
		title  string
		about  string
	}{http.StatusBadRequest, "Number not allowed", "The queue's number rules (number_rules: countries, block, refuse_types) refuse the callback number; errors.callback_number says why."}
	problemTypes[reservation.EDUPLICATE] = struct {
		status int
		title  string
		about  string
	}{http.StatusConflict, "Duplicate", "The callback number already has an active (scheduled or in_progress) reservation in the queue's scope (duplicates: strict); duplicate_of names it when the client may see it."}
	problemTypes[reservation.ETHROTTLED] = struct {
		status int
		title  string
		about  string
	}{http.StatusTooManyRequests, "Throttled", "The queue's throttle (per_number or per_queue) allows no more creates over its rolling window now. Wait for Retry-After seconds."}
}
