"""Voice channel: FreeSWITCH over the Event Socket."""
