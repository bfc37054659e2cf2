"""One run's machinery: the plan and its context, calling claude per chunk with retry, throttle and budget."""
