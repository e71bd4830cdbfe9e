"""UDF workers shipped with framelake: `python3 -m framelake.workers.hog_person`,
`python3 -m framelake.workers.frcnn_detector` (used as `--udf "exec:python3 -m framelake.workers.NAME"`)."""
