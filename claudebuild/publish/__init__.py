"""After the run: the report written in the configured formats, CI output (annotations, step summary) and the
garbage collection of results whose chunks are gone. run/ never imports it back; engine/ hands its report
action to doit."""
