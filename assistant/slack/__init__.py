"""The Slack edge: mentions, DMs, threads, the slash command, sources and feedback.

It translates only: questions go to the same `Assistant` as the CLI and the web service.

- `mrkdwn`: the assistant's Markdown as Slack mrkdwn; Slack's message text as a question;
- `blocks`: Block Kit messages within Slack's limits (answer, sources, feedback buttons);
- `ledger`: event ids already taken, in the conversations database (retries answer once);
- `handlers`: what the bot does with a mention, a DM, the slash command, a feedback click;
- `app`: the Bolt app, its HTTP routes on the web service, and the Socket Mode handler;
- `feedback`: feedback clicks exported as eval cases;
- `commands`: `stackguide slack` and `stackguide feedback export`.
"""
