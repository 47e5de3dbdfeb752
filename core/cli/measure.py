"""Measurement commands: `eval beir|squad` (quality on public data), `bench ingest|query` (speed)."""
from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from core.cli import EXIT_OK, Cli, Commands, json_option


def register(commands: Commands) -> None:
    evals = commands.group("eval", "Measure retrieval and answer quality on public data sets.", "DATASET")
    p = evals.add(
        "beir", eval_beir, "nDCG@10 and Recall@100 of dense, BM25 and fused rankings on a BEIR collection.",
        "Rank a BEIR-format collection (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) with the app's retriever; "
        "print nDCG@10 and Recall@100 for dense, BM25, the app's fusion and reciprocal-rank fusion.")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--split", default="train", choices=["train", "test", "dev"],
                   help="which qrels/SPLIT.tsv to score (default: train)")
    json_option(p)
    p = evals.add(
        "squad", eval_squad, "Answer recall@1/@5 on SQuAD-style texts and questions.",
        "Ingest DIR/source_texts as one class, ask every question of DIR/questions.jsonl, print answer "
        "recall@1/@5 and how often the answer text contains a gold answer.")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--limit", type=int, help="ask only the first N questions")
    json_option(p)

    benches = commands.group("bench", "Measure ingestion throughput and query latency.", "WHAT")
    p = benches.add(
        "ingest", bench_ingest, "Ingestion pages/s and chunks/s against the raw embedding ceiling.",
        "Ingest the given files (or every file in a given folder) into a temporary database and print pages/s, "
        "chunks/s, the raw embedding throughput of the same model on the same chunks, and peak RSS.")
    p.add_argument("files", nargs="+", metavar="FILE_OR_DIR")
    json_option(p)
    p = benches.add(
        "query", bench_query, "Query latency p50/p95 (query embedding included) at 10k and 100k chunks.",
        "Query latency p50/p95 at each index size, with the components measured in the same run as the baseline.")
    p.add_argument("--sizes", default="10000,100000", help="comma-separated index sizes (default 10000,100000)")
    p.add_argument("--queries", type=int, default=200)
    json_option(p)


def eval_beir(args: Namespace, cli: Cli) -> int:
    from core.measure.eval_beir import run_beir
    from core.search.embeddings import make_embedder

    result = run_beir(Path(args.directory), cli.settings.data_dir / "cache", split=args.split,
                      embedder=make_embedder(cli.settings.embedder), progress=None if args.json else cli.progress)
    cli.print_json(result) if args.json else print(format_beir(result))
    return EXIT_OK


def eval_squad(args: Namespace, cli: Cli) -> int:
    from core.measure.eval_squad import run_squad

    result = run_squad(Path(args.directory), cli.settings, limit=args.limit,
                       progress=None if args.json else cli.progress)
    cli.print_json(result) if args.json else print(format_squad(result))
    return EXIT_OK


def bench_ingest(args: Namespace, cli: Cli) -> int:
    from core.measure.bench_ingest import bench_ingest as run

    result = run([Path(f) for f in args.files], cli.settings)
    cli.print_json(result) if args.json else print(format_bench_ingest(result))
    return EXIT_OK


def bench_query(args: Namespace, cli: Cli) -> int:
    from core.measure.bench_query import bench_query as run
    from core.search.embeddings import make_embedder

    sizes = tuple(int(s) for s in args.sizes.split(","))
    result = run(sizes=sizes, n_queries=args.queries, embedder=make_embedder(cli.settings.embedder))
    cli.print_json(result) if args.json else print(format_bench_query(result))
    return EXIT_OK


def format_beir(result: dict) -> str:
    """Render run_beir's result as a small text table."""
    lines = [f"{result['dataset']} ({result['split']}): {result['docs']} docs, "
             f"{result['queries']} queries, model {result['model']}",
             f"{'ranking':<8}{'nDCG@10':>10}{'R@100':>10}{'ms/query':>10}"]
    for ranking, m in result["metrics"].items():
        ms = result["timing"]["search_ms_per_query"].get(ranking, float("nan"))
        lines.append(f"{ranking:<8}{m['ndcg@10']:>10.4f}{m['recall@100']:>10.4f}{ms:>10.2f}")
    t = result["timing"]
    rate = t.get("docs_per_second")
    lines.append(f"embedding: {rate} docs/s{' (cached from an earlier run)' if t.get('cached') else ''}; "
                 f"index build {t['index_build_seconds']} s")
    return "\n".join(lines)


def format_squad(r: dict) -> str:
    return "\n".join([
        f"SQuAD answer recall on {r['dataset']} ({r['documents']} documents, {r['chunks']} chunks, "
        f"{r['questions']} questions, embedder {r['embedder']})",
        f"  answer recall@1               {r['answer_recall@1']:.3f}",
        f"  answer recall@5               {r['answer_recall@5']:.3f}",
        f"  answer text contains gold     {r['answer_text_contains_gold']:.3f}",
        f"  questions answered (not 'nothing found')  {r['answered']:.3f}",
        f"  ask latency p50 {r['ask_p50_ms']:.0f} ms, p95 {r['ask_p95_ms']:.0f} ms; ingest {r['ingest_seconds']} s",
    ])


def format_bench_ingest(r: dict) -> str:
    verdict = "meets" if (r["ratio_to_ceiling"] or 0) >= r["target_ratio"] else "BELOW"
    lines = [
        f"Ingestion of {r['files']} files ({r['pages']} pages, {r['chunks']} chunks), embedder {r['embedder']}",
        f"  end to end        {r['ingest_pages_per_s']} pages/s, {r['ingest_chunks_per_s']} chunks/s "
        f"({r['ingest_seconds']} s)",
        f"  ceiling (same model, same chunks, one embed call)  {r['ceiling_embed_chunks_per_s']} chunks/s",
        f"  ratio             {r['ratio_to_ceiling']} ({verdict} the {r['target_ratio']:.0%} target)",
        f"  parsing alone     {r['parse_only_pages_per_s']} pages/s",
        f"  peak RSS          {r['peak_rss_mb']} MB",
    ]
    lines += [f"  FAILED {f['file']}: {f['error']}" for f in r["failed"]]
    return "\n".join(lines)


def format_bench_query(result: dict) -> str:
    """Render bench_query's result as a small text table."""
    qe = result["query_embedding"]
    lines = [f"query embedding ({result['model']}): p50 {qe['p50_ms']} ms, p95 {qe['p95_ms']} ms",
             f"{'chunks':>8}{'build s':>9}{'e2e p50':>9}{'e2e p95':>9}{'search p50':>11}"
             f"{'faiss p50':>10}{'bm25 p50':>10}{'index MB':>9}{'peak MB':>9}"]
    for s in result["sizes"]:
        lines.append(f"{s['chunks']:>8}{s['build_seconds']:>9.2f}{s['end_to_end']['p50_ms']:>9.2f}"
                     f"{s['end_to_end']['p95_ms']:>9.2f}{s['search_fused']['p50_ms']:>11.2f}"
                     f"{s['faiss_only']['p50_ms']:>10.2f}{s['bm25_only']['p50_ms']:>10.2f}"
                     f"{s['index_rss_mb']:>9.0f}{s['peak_rss_mb']:>9.0f}")
    lines.append("(e2e = real query embedding + fused search, k=8; index MB = RSS growth during build; peak = process peak so far;"
                 f" load average at the end {result.get('load_average_1m')} on"
                 f" {result.get('cpu_count')} CPUs)")
    return "\n".join(lines)
