// SPDX-License-Identifier: Apache-2.0

// Package genesys is Slotline's client of the Genesys Cloud Platform API:
// OAuth client credentials, scheduled callbacks, conversations, queues,
// Architect schedules, agentless SMS and the Notifications API.
//
// # Endpoints and permissions
//
// The OAuth client (grant type client credentials) needs a role holding
// these permissions; roles, not scopes, govern client-credentials tokens.
//
//	POST     https://login.{domain}/oauth/token                    Basic id:secret, grant_type=client_credentials
//	POST     /api/v2/conversations/callbacks                       conversation:callback:create                   CreateCallback
//	PATCH    /api/v2/conversations/callbacks                       conversation:callback:edit                     RescheduleCallback
//	POST     /api/v2/conversations/callbacks/bulk/disconnect       conversation:communication:disconnect          DisconnectCallbacks, CancelCallback
//	PATCH    /api/v2/conversations/callbacks/{id}                  conversation:communication:disconnect          DisconnectConversation, CancelCallback
//	GET      /api/v2/conversations/callbacks/{id}                  (none listed)                                  GetCallbackConversation
//	GET      /api/v2/conversations/{id}                            conversation:communication:view                GetConversation (every medium: the callback's calls)
//	POST     /api/v2/analytics/conversations/details/query         analytics:conversationDetail:view              FindCallbacks
//	GET      /api/v2/routing/queues/{id}                           routing:queue:view                             GetQueue
//	GET      /api/v2/architect/schedulegroups/{id}                 routing:scheduleGroup:view                     GetScheduleGroup
//	GET      /api/v2/architect/schedules/{id}                      routing:schedule:view                          GetSchedule
//	POST     /api/v2/conversations/messages/agentless              conversation:message:create                    SendSMS
//	GET      /api/v2/routing/sms/phonenumbers?phoneNumber=         sms:phoneNumber:view (not in the reference)    FindSMSPhoneNumber (slotline doctor only)
//	POST     /api/v2/notifications/channels                        (none)                                         CreateChannel
//	HEAD     /api/v2/notifications/channels/{id}                   (none)                                         ChannelExists
//	PUT/POST /api/v2/notifications/channels/{id}/subscriptions     (none; topics: UNCONFIRMED)                    Subscribe
//	WSS      the channel's connectUri (wss://streaming.{domain}/…) (none)                                         DialNotifications
//
// The console's sign-in (AuthCodeFlow, consoleauth.go) uses a second OAuth
// client, of grant type Code Authorization, on behalf of the operator:
//
//	GET      https://login.{domain}/oauth/authorize               (the browser) response_type=code, client_id, redirect_uri, state, S256 code_challenge
//	POST     https://login.{domain}/oauth/token                   Basic id:secret, grant_type=authorization_code, code, redirect_uri, code_verifier
//	GET      /api/v2/users/me?expand=authorization,groups          (none; a user's token)                        Finish
//
// # Calls
//
// Every call takes a token from its Budget (300 requests per minute by
// default, Genesys' documented limit, never more in any 60 s) and gets a bearer token from a cache
// that refreshes it 30 s before it expires. The budget is the process's own
// (NewBucket) or shared by every process of a deployment through a
// BudgetStore (NewSharedBudget). A 401 drops the cached token and repeats
// the call once with a new one. A 429 pauses the whole budget for its
// Retry-After (every call of the process, or of the deployment, waits; the
// call gives up when that exceeds Config.MaxRetryAfter); a 5xx other than
// 501, a 408 and a network error back off exponentially with full jitter
// (base 500 ms, cap 30 s); other 4xx are returned at once. Every response's
// inin-ratelimit-* headers go to the Observer; an allowance below the
// configured limit lowers the budget's rate, and a count that reached the
// allowance pauses the budget until the count resets. Each attempt is bounded by Config.CallTimeout and every
// wait by the caller's context. Failures are *APIError (IsNotFound,
// IsPermanent); each retried attempt is logged once at Warn, and the final
// error is returned, not logged.
//
// CreateCallback is the one call that is never repeated once it may have
// reached Genesys. Only a 429, a 401 and a failure to obtain a connection
// (DNS, dial, TLS) prove that it did not take effect; anything after a
// connection was obtained (a timeout, a dropped connection, a 5xx or 408, an
// unreadable 2xx) returns an *UnknownOutcomeError. A POST sent on a
// keep-alive connection that Genesys closed at the same moment therefore
// also reports an unknown outcome: rare, and resolved by the same lookup.
//
// # UNCONFIRMED points and how the client copes
//
//   - Success codes: every 2xx is success, with or without a body.
//   - Time formats: instants are sent as UTC "2006-01-02T15:04:05.000Z";
//     they are read with or without fractional seconds or offset, as epoch
//     milliseconds, or empty.
//   - token_type casing: ignored; the header is always "Bearer".
//   - Error bodies: a non-JSON body (a gateway page) yields the status text
//     as the message; the correlation id falls back to contextId.
//   - PatchCallbackRequest.agentId: sent only when set. IsAgentRequired
//     recognizes a refusal for it (a 400 whose details, code or message
//     name agentId); CallbackConversation.Owner gives the agent of an
//     agent-owned callback to send.
//   - Which callbackId bulk disconnect expects: CancelCallback sends the ACD
//     identifier (else EXTERNAL) and falls back to disconnecting the whole
//     conversation when Genesys refuses it with a 4xx; 404 counts as gone.
//     Bulk disconnect answers 202 and applies later (or never): read the
//     conversation back to know.
//   - Whether a pending callback reports state "scheduled": states are
//     passed through as strings for the caller to map. The GET callback
//     view's enum has no "scheduled"; the generic view's callbacks[] and
//     both queue topics have it.
//   - Where the call placed for a callback appears: the models say the
//     generic view (GetConversation, the v2.routing.queues.{id}.conversations
//     topic) carries calls[] beside callbacks[], the callback view only an
//     otherMediaUris entry; whether the call sits on the customer
//     participant or on a new one is UNCONFIRMED (Conversation keeps every
//     participant's calls).
//   - Analytics latency and limits: FindCallbacks pages by 100 until a short
//     page (totalHits may be approximate), at most 10,000 conversations
//     (more is an error, never a short answer); a just-created callback may
//     not be indexed yet. The queue predicate is optional (whether a
//     callback not yet routed carries queueId on its number's segment is
//     unknown), and each number is matched as "+1…" and "tel:+1…". How many
//     predicates an "or" clause may hold is not documented; the sync puts at
//     most 25 numbers (50 predicates) in one.
//   - Agentless SMS refusals: ClassifySMSError calls a 4xx permanent except
//     an active-conversation conflict; the codes Genesys uses for them are
//     unknown.
//   - Whether refused calls (503) count against Genesys' rate limits: the
//     client gives their tokens back, up to RefusedShare of the rate. A 429
//     gives nothing back.
//   - The inin-ratelimit-* headers: allowed is read as calls per minute,
//     reset as seconds from now (or an instant, if the number can only be
//     one), count as the calls counted so far. Which limit (token, OAuth
//     client, resource) they describe is not documented; the lowest
//     allowance seen within AllowanceHold wins.
//   - Heartbeat interval, the pong text and socket-level replies: matched
//     case-insensitively; Notification.Result exposes a socket-level reply.
//   - Notification topic permissions: Subscribe reports Rejected topics as
//     a *TopicRejectedError with their reasons and missing permissions.
//   - The client id and secret are URL-encoded inside the Basic header
//     (RFC 6749 §2.3.1, as golang.org/x/oauth2 does); whether Genesys decodes
//     them is UNCONFIRMED. Letters, digits and "-_.~" are unaffected.
//   - af-south-1 (afs1.pure.cloud) is in the region table from third-party
//     sources only.
package genesys
