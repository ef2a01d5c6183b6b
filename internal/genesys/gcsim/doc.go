// SPDX-License-Identifier: Apache-2.0

// Package gcsim is a Genesys Cloud simulator: a real HTTP and WebSocket
// server that speaks the Genesys Cloud Platform API's wire format (paths,
// JSON field names, status codes, ErrorBody, the normalized 429 body,
// notification frames) for the calls Slotline makes, plays every callback's
// life on an adjustable clock, and injects faults on demand.
//
// It serves three uses: tests of the Genesys client over real sockets,
// `slotline serve` in sandbox mode (in-process, when no Genesys credentials
// are configured), and `slotline sim` (standalone).
//
//	sim := gcsim.New(gcsim.Options{Clock: gcsim.NewClock(start, 0), Seed: 1})
//	defer sim.Close()
//	base, err := sim.Start("127.0.0.1:0") // API and login base URL
//	sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: "/api/v2/conversations/callbacks", Status: 429, RetryAfter: 2 * time.Second})
//	sim.Clock().Advance(time.Hour)        // play every callback due within the hour
//
// # Endpoints
//
// One server plays both the login host and the API host.
//
//	POST   /oauth/token                                          client credentials (Basic auth, raw or form-urlencoded id:secret); authorization_code (see Sign-in)
//	GET    /oauth/authorize                                      the login page of a user's sign-in (HTML)
//	POST   /oauth/authorize                                      its forms: sign in (username/password or a user button) or deny → 302 to redirect_uri
//	GET    /api/v2/users/me                                      → UserMe of the token's user; expand=authorization,groups
//	POST   /api/v2/conversations/callbacks                       create a callback → 200 CreateCallbackResponse
//	PATCH  /api/v2/conversations/callbacks                       reschedule/update a scheduled callback → 200 PatchCallbackResponse
//	POST   /api/v2/conversations/callbacks/bulk/disconnect       → 202, no body
//	PATCH  /api/v2/conversations/callbacks/{conversationId}      {"state":"disconnected"} → 200 Conversation
//	GET    /api/v2/conversations/callbacks/{conversationId}      → CallbackConversation (flat participants, otherMediaUris)
//	GET    /api/v2/conversations/{conversationId}                → Conversation (participants[].callbacks[] and calls[])
//	POST   /api/v2/analytics/conversations/details/query         ConversationQuery → conversations without attributes, totalHits
//	GET    /api/v2/routing/queues/{queueId}                      → Queue
//	GET    /api/v2/routing/sms/phonenumbers                      → {entities:[SmsPhoneNumber], total, …}: the org's SMS numbers; ?phoneNumber=, pageSize, pageNumber
//	GET    /api/v2/routing/sms/phonenumbers/{addressId}          → the SMS number a queue's smsAddress refers to
//	GET    /api/v2/architect/schedulegroups/{scheduleGroupId}    → ScheduleGroup
//	GET    /api/v2/architect/schedules/{scheduleId}              → Schedule (start/end local, no offset)
//	POST   /api/v2/conversations/messages/agentless              SMS → 200 SendAgentlessOutboundMessageResponse
//	POST   /api/v2/notifications/channels                        → Channel {id, connectUri, expires}
//	GET    /api/v2/notifications/channels                        → {entities:[Channel]}
//	HEAD   /api/v2/notifications/channels/{channelId}            200 or 404
//	GET    /api/v2/notifications/channels/{channelId}/subscriptions
//	POST   /api/v2/notifications/channels/{channelId}/subscriptions   add topics  [{"id":topic}] → {entities:[ChannelTopic]}
//	PUT    /api/v2/notifications/channels/{channelId}/subscriptions   replace topics
//	DELETE /api/v2/notifications/channels/{channelId}/subscriptions   → 204
//	GET    /channels/{channelId}                                 the notification WebSocket (connectUri)
//
// Every response but the admin API's carries an ININ-Correlation-Id header;
// error bodies are ErrorBody ({message, code, status, contextId, details,
// errors}) with contextId equal to it, except /oauth/token, whose errors are
// {error, description, error_description}. API calls need "Authorization:
// Bearer <token>": a missing one is 401 authentication.required; an unknown,
// expired or revoked one is 401 bad.credentials. Bodies over 512000 bytes
// are 413. Unknown paths are 404 not.found.
//
// # Callback lifecycle
//
// All conversation timestamps are on the simulator's Clock. A new callback
// has a customer participant and an acd participant (with queue{id,name}),
// their callback communications "scheduled". How it plays when it falls
// due (callbackScheduledTime, or at once if none was given) depends on the
// queue's CallbackMode and on the callback's Play: Options.FirstPlays for
// the first callbacks, SetPlay (or POST /sim/conversations/{id}/play) for
// one, else a draw at each attempt (the customer answers with probability
// AnswerRate; otherwise the phone rings out, or one time in three a
// voicemail answers).
//
// AgentFirst (the default): the customer's and the ACD's callback
// communications go "connected" and an agent participant (user{id,name})
// is alerted ("alerting"). An agent who does not accept is disconnected
// "transfer.noanswer" after AlertTimeout and the next agent is alerted
// (Play.AgentMisses); one who accepts is "connected" after AcceptDelay, and
// the ACD's communication ends "transfer". AutoDialDelay later the call to
// the customer is placed: a call on the agent ("connected" at once: the
// agent is on the call, which says nothing about the customer) and one on
// the customer ("dialing"). RingTime later the customer's call is answered
// (connectedTime; a voicemail answers too) or disconnected "timeout" with
// the Q.850 cause 19. An answered call lasts TalkTime (VoicemailTime for a
// voicemail) and ends "endpoint" on the customer's side (the agent's
// "peer"; for a voicemail the agent hangs up: "client", the customer's
// "peer"), with Q.850 16. The agent's callback communication then ends
// "client", the customer's "peer", and the conversation has its endTime.
// WrapupTime later the agent's wrap-up is recorded on the agent
// participant, its callback and its call: WrapupReached, WrapupNoAnswer or
// WrapupVoicemail (or Play.Wrapup; none with Play.NoWrapup), with
// startAcwTime and endAcwTime. With Play.Reschedule, a call not answered
// leaves the customer's callback open and, as the agent wraps up, the
// callback goes back to "scheduled" Reschedule later in the same
// conversation (its next attempt plays Play.Retry), its earlier calls kept.
//
// CustomerFirst: at the due time the customer is dialled at once (a call on
// the customer participant, no agent). Answered, the call is routed to an
// agent (alerted, accepted or not as above), who joins it ("connected"
// call) until it ends, then wraps up. Not answered: with Play.Reschedule
// the queue retries (back to "scheduled"), else every communication ends
// and no agent was ever involved.
//
// A disconnect through the API (bulk disconnect or PATCH state) disconnects
// every communication with "client"; a supervisor disconnect
// (Sim.Disconnect) with "system". Every change is published as a full
// snapshot, version "2": on v2.routing.queues.{queueId}.conversations.callbacks
// with flat participants (state "scheduled" while waiting), and on
// v2.routing.queues.{queueId}.conversations with the generic participants
// (callbacks[] and calls[], wrap-ups with their code only, no start or end
// times). The data map of the create command becomes the customer
// participant's attributes.
//
// # Notifications
//
// A channel's connectUri is ws://HOST/channels/{id} (HOST as the request
// named it). One connection per channel: a second one closes the first
// (1008). Frames are text JSON {topicName, version, eventBody,
// metadata:{CorrelationId}}. A heartbeat {"topicName":"channel.metadata",
// "eventBody":{"message":"WebSocket Heartbeat"}} goes out every
// HeartbeatEvery; a client text frame {"message":"ping"} is answered with
// {"topicName":"channel.metadata","eventBody":{"message":"pong"}}. Events
// are not buffered for a channel with no connection. A socket that falls
// 4096 frames behind is dropped, so a slow client never blocks the
// simulator. An OAuth client has at most 20 channels: the 21st evicts the
// least recently used one, preferring channels with no connection. A
// channel takes at most 1000 topics. Only
// v2.routing.queues.{id}.conversations and
// v2.routing.queues.{id}.conversations.callbacks of a known queue are
// Permitted; other topics, unknown queues and topics set with
// SetTopicRejection come back Rejected with a rejectionReason (and the
// missingPermissions the rule names). A client without
// QueueTopicPermission gets a queue's topics Rejected with
// missingPermissions.
//
// # Permissions and the Date header
//
// Every OAuth client holds every permission unless Options.Permissions or
// SetPermissions limits it. Each API route needs the permission the
// reference lists for it (routePermissions, permissions.go); a client
// without it gets 403 missing.permissions, whose message names the
// missing permission(s) ("… permission(s): [routing:queue:view]"), before
// the body is read, so that an empty body probes a permission harmlessly.
// SetDateOffset moves the Date header of every answer, as the answers of
// a Genesys whose clock is off.
//
// # Sign-in
//
// Users sign in with the authorization code grant, with or without PKCE,
// through an OAuth client of Options.CodeClients (default
// DefaultConsoleClientID / DefaultConsoleClientSecret, grant type CODE, no
// redirect URI until SetCodeClient or PUT /sim/oauth/clients/{id} registers
// some). GET /oauth/authorize checks client_id and redirect_uri (an exact
// match with a registered one; otherwise a 400 error page and no redirect),
// then response_type=code (else a redirect with
// error=unsupported_response_type) and code_challenge with
// code_challenge_method=S256 (required for a PKCE client; other methods
// are error=invalid_request), and shows a login page: a form with
// "Username" (the email) and "Password", a "Sign in as …" button per user
// of Options.Users (default DefaultUsers: Avery Admin with role "Slotline
// Admin", Sam Supervisor with role "Slotline Supervisor", Vic Viewer in
// group "Slotline Viewers", Nico Noaccess with none of them; password
// DefaultUserPassword) and "Cancel", which redirects with
// error=access_denied. A sign-in redirects with a code and the state. A
// code lives 5 minutes, is bound to its client, redirect URI and challenge,
// and is used up by its first exchange by its client, failed or not; a code
// presented again is refused and the token issued with it revoked.
//
// POST /oauth/token with grant_type=authorization_code, code and
// redirect_uri authenticates a CODE client with HTTP Basic (its secret) and
// a PKCE client with client_id in the form (Basic is a 400
// invalid_request); anything else is 401 invalid_client. A code that is
// unknown, expired, used, of another client, with another redirect_uri, or
// whose code_verifier is missing, malformed or does not hash (S256) to the
// challenge is 400 invalid_grant. The answer is {access_token,
// token_type:"bearer", expires_in} plus a refresh_token for a CODE client
// (the refresh grant is not served). Its token reads GET
// /api/v2/users/me: {id, name, email, username, state, version, selfUri},
// with authorization {roles:[{id, name}], unusedRoles, permissions} and
// groups [{id, name, type, state, visibility, selfUri}] when expand
// (comma-separated or repeated) names them. A client-credentials token
// there is 400 bad.request; a removed user's token 401 bad.credentials.
//
// # Admin API
//
// Under /sim/, with no authentication (the simulator is a test tool; do not
// expose it). Durations are Go duration strings ("2s") or numbers of
// seconds. Answers are 204 unless noted.
//
//	POST /sim/faults                                 Fault: {"method","pathPrefix","status","retryAfter","count","latency","loseResponse"}
//	POST /sim/failure-rate                           {"status":429,"rate":0.1,"retryAfter":"1s"}
//	POST /sim/rate-limit                             {"perSecond":50} or {"perMinute":180} (0 removes the limit)
//	POST /sim/answer-rate                            {"rate":0.5}
//	POST /sim/topic-rejections                       {"topic","reason","missingPermissions"} (empty reason removes the rule)
//	POST /sim/permissions                            {"clientId","permissions":[…]} (null: every permission)
//	POST /sim/date-offset                            {"offset":"30s"} (negative: behind)
//	GET  /sim/clock, POST /sim/clock                 {"advance":"10m"} and/or {"speed":60} → 200 {"now","speed"}
//	GET  /sim/callbacks                              → 200 []CallbackInfo
//	GET  /sim/sms                                    → 200 []SMSInfo
//	GET  /sim/stats                                  → 200 Stats
//	POST /sim/tokens/revoke
//	POST /sim/channels/{id}/expire
//	POST /sim/channels/{id}/socket-closing
//	POST /sim/sockets/drop
//	POST /sim/conversations/{id}/reschedule          {"at":"2026-06-01T15:00:00Z"} (409 once no longer scheduled)
//	POST /sim/conversations/{id}/disconnect
//	POST /sim/conversations/{id}/play                Play: {"agentMisses":1,"customer":"no-answer","wrapup":{"id","name"},"noWrapup":false,"reschedule":"1h","retry":{…}}
//	POST /sim/conversations/{id}/owner               {"agentId":"…"} makes it agent-owned ("" for none; 404 for an unknown agent)
//	POST /sim/analytics                              {"delay":"5s","telNumbers":true} (absent fields unchanged)
//	POST /sim/agent-id                               {"required":true}
//	POST /sim/disconnects/drop                       {"count":2}: accept the next disconnect requests and never apply them
//	POST /sim/lost-responses                         {"method":"POST","pathPrefix":"/api/v2/conversations/callbacks","rate":0.1}
//	POST /sim/sms/conversations                      {"fromAddress","toAddress"} → 200 {"conversationId"}: the customer replied
//	POST /sim/sms/refusals                           {"fromAddress","reason":"10dlc"} ("" lifts it)
//	GET  /sim/users                                  → 200 []User (without passwords)
//	POST /sim/users                                  User {"id","name","email","password","roles","groups"}: add, or replace by id → 200 User
//	DELETE /sim/users/{id}                           (404 for an unknown user); the user's tokens stop working
//	PUT  /sim/oauth/clients/{id}                     {"secret","grantType":"CODE"|"PKCE","redirectUris":[…]}: add or replace a code-grant client
//
// # Choices where the reference is UNCONFIRMED
//
//   - Sign-in (confirmed: the authorize and token parameters, Basic auth
//     for a Code Authorization client and client_id plus code_verifier for
//     a PKCE-Enabled one, the token and error shapes, UserMe's fields, the
//     expand values, and that users/me is not for client credentials). The
//     simulator's: a Code Authorization client checks PKCE when the
//     authorization request had a challenge, and refuses a verifier without
//     one; only S256; the RFC 6749 §5.2 error codes (invalid_grant,
//     invalid_client, invalid_request, unsupported_response_type,
//     access_denied) and their statuses; the 5 minute code lifetime and the
//     revocation on reuse; that an unknown expand value is 400 bad.request;
//     the 400 bad.request of users/me for a client-credentials token; role
//     and group ids derived from their names. Genesys' login page also
//     offers SSO and asks once to authorize the client; the simulator's
//     does neither.
//   - Success codes: create, patch, channel creation and agentless SMS
//     answer 200; bulk disconnect 202; DELETE subscriptions 204.
//   - token_type is "bearer" (lowercase).
//   - Tokens and channels live on real time, not the sim clock, so that
//     expires_in and a channel's expires mean what a client's own clock
//     says. A channel ends at ChannelTTL after its creation or its last
//     subscription change, or when the token that created (or last
//     subscribed) it expires or is revoked, whichever comes first; expires
//     says when. RevokeTokens sends v2.system.token_revoked.{channelId} on
//     every socket, closes it (1001) and removes every channel.
//   - PATCH /api/v2/conversations/callbacks requires agentId only with
//     RequireAgentID (SetRequireAgentID): without it the answer is 400
//     bad.request with a detail {"errorCode":"required","fieldName":
//     "agentId"}. A given agentId must be one of the simulator's agents
//     (AgentIDs), and for an agent-owned callback its owner (else 400, detail
//     fieldName agentId). A callback is agent-owned when its create's
//     routingData.scoredAgents names an agent (the highest score wins) or
//     after SetOwner; its participants then carry conversationRoutingData
//     {queue, scoredAgents:[{agent:{id}, score:100}]}. A callback that is
//     dialing, connected or disconnected cannot be patched (400
//     bad.request). An unknown conversation is 404 not.found.
//   - Bulk disconnect accepts as callbackId the ACD or the EXTERNAL
//     callback identifier of the create response (these are also the
//     participants' callbacks[].id). An unknown conversation is 404, a
//     callbackId of another conversation 400; the whole request is checked
//     before anything is disconnected. Disconnecting an ended callback
//     (either route) succeeds and changes nothing. The bulk disconnect is
//     applied DisconnectDelay (real time, default 500 ms) after its 202.
//     DropDisconnects(n) makes the next n disconnect requests (bulk, or
//     PATCH state) be answered as usual and never applied, as a Genesys
//     that accepted a disconnect and lost it would.
//   - A callback waiting for its time reports state "scheduled" in the
//     Conversation's callbacks[] and in events (both enums have it), and
//     "none" in GET callbacks/{id}, whose CallbackMediaParticipant enum
//     has no "scheduled".
//   - The call placed for a callback is a call on the customer participant
//     (not a new participant), and a call on the agent; both belong to the
//     callback's conversation, whose otherMediaUris lists
//     /api/v2/conversations/calls/{id} (a path the simulator does not
//     serve). A call not answered ends "timeout" with Q.850 19; one the
//     customer hangs up "endpoint" with Q.850 16.
//   - An agent's reschedule after a call nobody answered keeps the
//     conversation: its callbacks go back to "scheduled", the earlier call
//     and agent stay in it. A CustomerFirst retry does the same.
//   - The wrap-up lands on the agent participant, its callback and its
//     call, in the generic view and the callback view; events carry its
//     code (the wrap-up code's id) without the name.
//   - callbackScheduledTime accepts any RFC 3339 offset (converted to
//     UTC); a time in the past makes the callback due at once. There is no
//     limit on how far ahead, on callbackNumbers or on data.
//     callbackNumbers are checked as E.164 only when validateCallbackNumbers
//     is true.
//   - Analytics: only dimension predicates on conversationId,
//     conversationStart, conversationEnd, mediaType, queueId,
//     callbackNumber, purpose, disconnectType, direction, userId,
//     participantId and sessionId, with operators matches (case-insensitive
//     equality), exists and notExists; anything else is 400. Every
//     participant has one callback session carrying callbackNumbers and one
//     segment carrying the queueId, so one "and" segment filter can combine
//     them. The interval matches conversations created on a UTC day it
//     touches. pageSize 1 to 100 (default 25). A new callback is searchable
//     only AnalyticsDelay (clock time, default 5 s) after its creation;
//     until then a query matching it counts it in totalHits without
//     returning it, so totalHits may overcount. Numbers are held as "+1…"
//     (or "tel:+1…" with AnalyticsTelNumbers). conversations is omitted
//     when there are no hits. SetLostResponseRate loses the answer of a
//     share of matching calls after they commit.
//   - The heartbeat interval (HeartbeatEvery, default 30 s) and the pong
//     text follow the community sources. socket_closing is followed by the
//     close after SocketClosingDelay (default 2 s, not the real ~1 minute).
//     Subscribing over the socket ({"message":"subscribe"}) is not
//     supported (ignored).
//   - Agentless SMS supports the sms messenger type only; fromAddress must
//     be a queue's SMSAddress when any queue has one (else 400 bad.request,
//     detail fieldName fromAddress); textBody is 1 to 765 characters. A
//     customer with an active SMS conversation with the number
//     (OpenSMSConversation: they replied) gets the message in that
//     conversation with useExistingActiveConversation, and otherwise 400
//     CodeActiveConversation. A number refused with RefuseSMS(…,
//     SMSRefusal10DLC) is 400 Code10DLC. These codes are the simulator's;
//     Genesys' are UNCONFIRMED. An agentless message opens no active
//     conversation by itself.
//   - Rate limit: per OAuth client, shared by all of its tokens (Genesys
//     also limits per token and per resource; the per-client ceiling is
//     UNCONFIRMED), on real time (Options.RateClock). An allowance per
//     window of one minute, starting at the first request after the last
//     window ended (UNCONFIRMED: fixed windows), and with SetRateLimit a
//     token bucket of one second's burst within it (SetRateLimitPerMinute
//     has none). 429s always carry Retry-After (whole seconds, at least 1;
//     over the allowance, until the window ends). Every API response to an
//     authenticated request, errors, refusals and 429s included, carries
//     inin-ratelimit-allowed (the allowance; 1000000 with no limit set),
//     inin-ratelimit-count (the requests counted in the window, this one
//     included) and inin-ratelimit-reset (seconds until the window ends,
//     at least 1); the names are confirmed, these meanings are the
//     reference's reading (UNCONFIRMED). A 401 carries none: it belongs to
//     no client. Only requests served, and refusals when
//     SetRefusalsUseAllowance is on, are counted.
package gcsim
