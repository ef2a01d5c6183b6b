package gcsim

import (
	"encoding/json"
	"fmt"
	"time"
)

// What the customer's phone does when the callback dials it (Play.Customer).
const (
	// CustomerAnswers: the customer picks up and talks to the agent for
	// TalkTime.
	CustomerAnswers = "answer"
	// CustomerNoAnswer: the phone rings for RingTime and nobody picks up.
	CustomerNoAnswer = "no-answer"
	// CustomerVoicemail: a voicemail picks up (the call is connected) and
	// the agent hangs up after VoicemailTime, wrapping up with
	// WrapupVoicemail.
	CustomerVoicemail = "voicemail"
)

// WrapupCode is a wrap-up code of the simulated org: Genesys reports its
// ID as wrapup.code (and its name in the GET views).
type WrapupCode struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// The wrap-up codes the simulator's agents give: WrapupReached when the
// customer answered, WrapupNoAnswer ("Cust unavailable", as in Genesys'
// missed-callback SMS blueprint) when nobody did, WrapupVoicemail when a
// voicemail answered.
var (
	WrapupReached   = WrapupCode{ID: "0c1d0000-0000-4000-8000-0000000000a1", Name: "Resolved"}
	WrapupNoAnswer  = WrapupCode{ID: "0c1d0000-0000-4000-8000-0000000000a2", Name: "Cust unavailable"}
	WrapupVoicemail = WrapupCode{ID: "0c1d0000-0000-4000-8000-0000000000a3", Name: "Voicemail"}
)

// Play scripts how a callback plays out when it falls due. The zero value
// is the plain case: the first agent alerted accepts, the customer answers,
// the agent wraps up with WrapupReached.
type Play struct {
	// AgentMisses is how many agents are alerted and let the alert time
	// out (AlertTimeout; their leg ends "transfer.noanswer") before one
	// accepts; the callback is offered to the next agent each time.
	AgentMisses int `json:"agentMisses,omitempty"`
	// Customer is CustomerAnswers (the default, ""), CustomerNoAnswer or
	// CustomerVoicemail.
	Customer string `json:"customer,omitempty"`
	// Wrapup, when set, is the code the agent gives instead of the one the
	// customer's outcome implies.
	Wrapup *WrapupCode `json:"wrapup,omitempty"`
	// NoWrapup: the agent never wraps up (the conversation ends without a
	// wrap-up code).
	NoWrapup bool `json:"noWrapup,omitempty"`
	// Reschedule, when positive and the customer did not answer, puts the
	// callback back to scheduled that long after the failed call, in the
	// same conversation: in AgentFirst the agent does it as they wrap up,
	// in CustomerFirst the queue retries. Retry is how the next attempt
	// plays (nil: the zero Play).
	Reschedule time.Duration `json:"reschedule,omitempty"`
	Retry      *Play         `json:"retry,omitempty"`
}

// UnmarshalJSON reads a Play, its reschedule as a Go duration string or a
// number of seconds.
func (p *Play) UnmarshalJSON(b []byte) error {
	type plain Play
	var w struct {
		plain
		Reschedule duration `json:"reschedule"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = Play(w.plain)
	p.Reschedule = time.Duration(w.Reschedule)
	return p.check()
}

// check reports what is wrong with p.
func (p *Play) check() error {
	switch p.Customer {
	case "", CustomerAnswers, CustomerNoAnswer, CustomerVoicemail:
	default:
		return fmt.Errorf("gcsim: customer %q is not %q, %q or %q", p.Customer, CustomerAnswers, CustomerNoAnswer, CustomerVoicemail)
	}
	if p.AgentMisses < 0 || p.Reschedule < 0 {
		return fmt.Errorf("gcsim: agentMisses and reschedule must not be negative")
	}
	if p.Retry != nil {
		return p.Retry.check()
	}
	return nil
}

// customer returns what the customer does, CustomerAnswers by default.
func (p *Play) customer() string {
	if p.Customer == "" {
		return CustomerAnswers
	}
	return p.Customer
}

// wrapupCode returns the code the agent gives.
func (p *Play) wrapupCode() WrapupCode {
	if p.Wrapup != nil {
		return *p.Wrapup
	}
	switch p.customer() {
	case CustomerNoAnswer:
		return WrapupNoAnswer
	case CustomerVoicemail:
		return WrapupVoicemail
	}
	return WrapupReached
}

// rescheduled reports whether this attempt ends in a reschedule.
func (p *Play) rescheduled() bool { return p.Reschedule > 0 && p.customer() == CustomerNoAnswer }

// nextScriptLocked returns the script of the next callback created: the
// next of Options.FirstPlays while any is left, else nil (random).
func (s *Sim) nextScriptLocked() *Play {
	if s.firstPlays >= len(s.opts.FirstPlays) {
		return nil
	}
	p := s.opts.FirstPlays[s.firstPlays]
	s.firstPlays++
	return &p
}

// playForLocked returns how the next attempt of c plays: its script, or a
// draw by the answer rate (a callback not answered rings out, or reaches a
// voicemail one time in three).
func (s *Sim) playForLocked(c *callback) Play {
	if c.script != nil {
		return *c.script
	}
	if s.answerRate > 0 && s.rng.Float64() < s.answerRate {
		return Play{Customer: CustomerAnswers}
	}
	if s.rng.Float64() < 1.0/3 {
		return Play{Customer: CustomerVoicemail}
	}
	return Play{Customer: CustomerNoAnswer}
}

// SetPlay scripts how the callback of conversationID plays from its next
// attempt on (a callback already dialing keeps its current attempt). It
// returns ErrNotFound for an unknown conversation, or an error for an
// invalid Play.
func (s *Sim) SetPlay(conversationID string, p Play) error {
	if err := p.check(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.callbacks[conversationID]
	if !ok {
		return ErrNotFound
	}
	c.script = &p
	return nil
}
