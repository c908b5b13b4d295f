"""vram.slackbot: the Slack frontend (slack-bolt). Not built yet: see the Slack bot issue."""
