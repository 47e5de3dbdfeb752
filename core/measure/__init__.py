"""Quality and speed on public data, through the same code the app runs: `eval_beir`,
`eval_squad`, `bench_ingest`, `bench_query`."""
