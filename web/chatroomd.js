// The chatroomd client module.
