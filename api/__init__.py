"""Race equality board self-assessment: the web service and its command line."""
