"""Delivery on every channel: one channel registry, one ledger, one delivery loop.

- :mod:`.core`: the message (``Outgoing``), the three ways a send can end badly (not accepted, refused,
  outcome unknown) and the ``Channel`` protocol every provider implements;
- :mod:`.safety`: addresses validated (one address, no list, no CR/LF), display names quoted per RFC 5322;
- :mod:`.templates`: message templates per language, rendered with escaping;
- :mod:`.channels`: the registry (email, sms, in_app, team_task) and its providers (the local outbox,
  SendGrid, Twilio, a signed in-app webhook, Slack, a generic webhook);
- :mod:`.events`: provider delivery events (SendGrid Event Webhook, Twilio status callbacks) received by a
  small HTTP receiver into files, loaded into the warehouse by the delivery loop;
- :mod:`.loop`: the delivery loop over the send ledger: mark ``sending`` before each request, settle what
  came back, reconcile every ``unknown`` from the provider's own record before anything is sent again.
"""
