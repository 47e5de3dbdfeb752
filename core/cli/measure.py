"""Measurement commands: `eval beir|squad|coverage|sizes|definitions` (quality on public data),
`bench ingest|embed|query|ask|index` (speed, memory); the app under load is `python -m loadtest`."""
from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from core.cli import EXIT_OK, EXIT_PROBLEMS, Cli, Commands, json_option


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
    p = evals.add(
        "coverage", eval_coverage, "Answer what the class covers, refuse the rest (SQuAD articles in/out of the class).",
        "Split the articles of a SQuAD-style folder (source_texts/, questions.jsonl) into halves; a class holds one "
        "half. Questions about it must be answered, questions about the other half refused. Folds rotate the halves. "
        "Prints on-topic answered, off-topic answered, on-topic recall@5 and ask latency, per fold and overall.")
    p.add_argument("--data", required=True, metavar="DIR", help="a SQuAD-style folder, e.g. ../shared/data/squad")
    p.add_argument("--limit", type=int, default=100,
                   help="questions per side (on-topic, off-topic) per fold, spread evenly over the articles "
                        "(default 100; 0 = all)")
    p.add_argument("--folds", type=int, default=2,
                   help="rotations of the in-class half (default 2: each half in once; up to the number of articles)")
    p.add_argument("--seed", type=int, default=0, help="which questions are sampled (default 0)")
    json_option(p)
    p = evals.add(
        "definitions", eval_definitions, "\"What is X?\" for terms the material defines (questions mined from it).",
        "Mine definitional sentences (\"X is a …\", \"X refers to …\", \"X: …\", \"… is called X\") from the files "
        "under DIR, keep the terms defined once, put every file in one class and ask \"What is X?\". Prints how often "
        "the first citation is the defining page (and in the top 5), how often the answer's first 200 characters "
        "hold half the definition's words, answered share and latency.")
    p.add_argument("--data", required=True, metavar="DIR",
                   help="a folder of .pdf (or, without PDFs, .txt/.md) files, e.g. ../shared/data/course_pdfs")
    p.add_argument("--limit", type=int, help="ask N of the mined questions, sampled with --seed (default: all)")
    p.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    p.add_argument("--ext", help="comma-separated file types to use, e.g. pdf,txt (default: the PDFs if the folder "
                                 "has any, else its .txt/.md files)")
    p.add_argument("--verbose", action="store_true", help="also print examples of mined questions and answers")
    json_option(p)

    p = evals.add(
        "sizes", eval_sizes, "Answered and refused, per class size (2 to 60 documents), on SQuAD and SciFact.",
        "Make classes of each size from SQuAD sections, SciFact abstracts and course PDFs (each ingested once), ask "
        "on-topic and off-topic questions through the chat service, and print per size and source: on-topic and "
        "off-topic answered, and for SQuAD the first sentence / answer / first passage holding a gold answer and the "
        "median answer length. --part heldout is the part kept aside: look at it once.")
    p.add_argument("--data", default=str(Path("..") / "shared" / "data"), metavar="DIR",
                   help="the folder with squad/, scifact/ and course_pdfs/ (default ../shared/data)")
    p.add_argument("--sizes", default="2,10,22,40,60", help="class sizes in documents (default 2,10,22,40,60)")
    p.add_argument("--part", default="dev", choices=["dev", "heldout"], help="which part of the data (default dev)")
    p.add_argument("--per-side", type=int, default=40, help="questions per source and side in each class (default 40)")
    p.add_argument("--seed", type=int, default=0)
    json_option(p)

    benches = commands.group("bench", "Measure ingestion throughput and query latency.", "WHAT")
    p = benches.add(
        "ingest", bench_ingest, "Ingestion pages/s and chunks/s against the raw embedding ceiling.",
        "Ingest the given files (or every file in a given folder) into a temporary database and print pages/s, "
        "chunks/s, the raw embedding throughput of the same model on the same chunks, and peak RSS.")
    p.add_argument("files", nargs="+", metavar="FILE_OR_DIR")
    json_option(p)
    p = benches.add(
        "embed", bench_embed, "fp32 against bf16 embedding: ingestion speed, query latency, SciFact and SQuAD quality.",
        "In one run, for fp32 and for bf16: ingestion chunks/s of DIR/course_pdfs through the document service "
        "(best of --repeats, interleaved), query embedding p50/p95 on SciFact claims (taking turns), SciFact train "
        "nDCG@10 and SQuAD answer recall@5 (with ask latency); print both columns, the ratios and deltas, and a verdict against the targets "
        "(>= 2x ingestion, |delta nDCG@10| <= 0.005, |delta recall@5| <= 0.01). Exit 1 if a target is missed.")
    p.add_argument("--data", default=str(Path("..") / "shared" / "data"), metavar="DIR",
                   help="the evaluation data folder with course_pdfs/, scifact/ and squad/ (default ../shared/data)")
    p.add_argument("--repeats", type=int, default=2, help="ingestion runs per precision, best kept (default 2)")
    p.add_argument("--queries", type=int, default=200, help="queries timed for embedding latency (default 200)")
    p.add_argument("--squad-limit", type=int, help="ask only the first N SQuAD questions (default: all)")
    json_option(p)
    p = benches.add(
        "query", bench_query, "Query latency p50/p95 (query embedding included) at 10k and 100k chunks.",
        "Query latency p50/p95 at each index size, with the components measured in the same run as the baseline.")
    p.add_argument("--sizes", default="10000,100000", help="comma-separated index sizes (default 10000,100000)")
    p.add_argument("--queries", type=int, default=200)
    json_option(p)
    p = benches.add(
        "ask", bench_ask, "Ask latency p50/p95 through the chat service on a large class, against retrieval alone.",
        "Build a class of N chunks from a BEIR corpus (default ../shared/data/scifact) through the document service, "
        "ask its queries through ChatService.ask and print p50/p95/max, with the query embedding alone and retrieval "
        "alone (embedding + fused search) timed on the same questions in the same run.")
    p.add_argument("--chunks", type=int, default=10_000, help="chunks in the class (default 10000)")
    p.add_argument("--queries", type=int, default=200, help="questions asked (default 200)")
    p.add_argument("--data", default=str(Path("..") / "shared" / "data" / "scifact"), metavar="DIR",
                   help="a BEIR folder with corpus.jsonl and queries.jsonl (default ../shared/data/scifact)")
    p.add_argument("--db", metavar="DIR", help="keep the benchmark database and files in DIR and reuse them next "
                                               "time (default: a temporary folder, built every run)")
    json_option(p)
    p = benches.add(
        "index", bench_index, "A class index: full build against adding one document; --memory: RSS with the model.",
        "Write a synthetic class of N chunks into a temporary database; time a full index build (phase by phase), "
        "then adding one 30-chunk document (the cache's update) against a full rebuild, in the same run. With "
        "--memory: RSS of a process holding the real model and the class's index, against the 900 MB target.")
    p.add_argument("--chunks", type=int, help="chunks in the class (default 100000; 50000 with --memory)")
    p.add_argument("--repeats", type=int, default=3, help="documents added, one at a time (default 3)")
    p.add_argument("--memory", action="store_true", help="measure RSS with the model and the index instead")
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


def eval_coverage(args: Namespace, cli: Cli) -> int:
    from core.measure.eval_coverage import run_coverage

    result = run_coverage(Path(args.data), cli.settings, folds=args.folds, limit=args.limit or None,
                          seed=args.seed, progress=None if args.json else cli.progress)
    cli.print_json(result) if args.json else print(format_coverage(result))
    return EXIT_OK


def eval_sizes(args: Namespace, cli: Cli) -> int:
    from core.measure.eval_sizes import format_sizes, run_sizes

    sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    result = run_sizes(Path(args.data), cli.settings, sizes=sizes, part=args.part, per_side=args.per_side,
                       seed=args.seed, progress=None if args.json else cli.progress)
    cli.print_json(result) if args.json else print(format_sizes(result))
    return EXIT_OK


def eval_definitions(args: Namespace, cli: Cli) -> int:
    from core.measure.eval_definitions import run_definitions

    extensions = [e.strip() for e in args.ext.split(",") if e.strip()] if args.ext else None
    result = run_definitions(Path(args.data), cli.settings, limit=args.limit, seed=args.seed,
                             extensions=extensions, progress=None if args.json else cli.progress)
    if args.json:
        cli.print_json(result)
    else:
        print(format_definitions(result, verbose=args.verbose))
    return EXIT_OK


def bench_ask(args: Namespace, cli: Cli) -> int:
    from core.measure.bench_ask import bench_ask as run

    result = run(cli.settings, chunks=args.chunks, n_queries=args.queries, data=Path(args.data),
                 db_dir=Path(args.db) if args.db else None, progress=None if args.json else cli.progress)
    cli.print_json(result) if args.json else print(format_bench_ask(result))
    return EXIT_OK


def bench_embed(args: Namespace, cli: Cli) -> int:
    from core.measure.bench_embed import bench_embed as run

    result = run(Path(args.data), cli.settings, repeats=args.repeats, queries=args.queries,
                 squad_limit=args.squad_limit, progress=None if args.json else cli.progress)
    cli.print_json(result) if args.json else print(format_bench_embed(result))
    return EXIT_OK if result["meets_targets"] else EXIT_PROBLEMS


def bench_ingest(args: Namespace, cli: Cli) -> int:
    from core.measure.bench_ingest import bench_ingest as run

    result = run([Path(f) for f in args.files], cli.settings)
    cli.print_json(result) if args.json else print(format_bench_ingest(result))
    return EXIT_OK


def bench_index(args: Namespace, cli: Cli) -> int:
    from core.measure import bench_index as bench

    say = None if args.json else cli.progress
    if args.memory:
        result = bench.bench_memory(cli.settings, chunks=args.chunks or 50_000, progress=say)
    else:
        result = bench.bench_index(cli.settings, chunks=args.chunks or 100_000, repeats=args.repeats, progress=say)
    cli.print_json(result) if args.json else print(bench.format_bench_index(result))
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


def format_bench_embed(r: dict) -> str:
    """Render bench_embed's result: fp32 and bf16 side by side, the ratios and the verdict."""
    a, b, d = r["sides"]["fp32"], r["sides"]["bf16"], r["deltas"]
    rows = [
        ("path", a["path"], b["path"], f"auto here: {r['auto_here']}"),
        (f"ingest chunks/s ({a['chunks']} chunks, best of {r['repeats']})", a["ingest_chunks_per_s"],
         b["ingest_chunks_per_s"], f"x{r['ingest_speedup']}"),
        ("query embedding p50 ms", a["query_embed_p50_ms"], b["query_embed_p50_ms"], f"x{r['query_p50_speedup']}"),
        ("query embedding p95 ms", a["query_embed_p95_ms"], b["query_embed_p95_ms"], ""),
        ("SciFact train nDCG@10 (fused, the app's)", a["scifact_ndcg@10"], b["scifact_ndcg@10"],
         f"{d['scifact_ndcg@10']:+.4f}"),
        ("SciFact train nDCG@10 (dense alone)", a["scifact_dense_ndcg@10"], b["scifact_dense_ndcg@10"],
         f"{d['scifact_dense_ndcg@10']:+.4f}"),
        (f"SQuAD answer recall@5 ({a['squad_questions']} questions)", a["squad_recall@5"], b["squad_recall@5"],
         f"{d['squad_recall@5']:+.4f}"),
        ("SQuAD answer recall@1", a["squad_recall@1"], b["squad_recall@1"], f"{d['squad_recall@1']:+.4f}"),
        ("SQuAD ask p50 / p95 ms", f"{a['ask_p50_ms']:.0f} / {a['ask_p95_ms']:.0f}",
         f"{b['ask_p50_ms']:.0f} / {b['ask_p95_ms']:.0f}", ""),
    ]
    lines = [f"Embedding precision on {r['data']} ({r['cpu_count']} CPUs, load average "
             f"{r['load_average_1m'][0]} -> {r['load_average_1m'][1]})",
             f"  {'':<44}{'fp32':>24}{'bf16':>24}  ratio / delta"]
    lines += [f"  {name:<44}{str(x):>24}{str(y):>24}  {z}" for name, x, y, z in rows]
    checks = ", ".join(f"{name} {'ok' if ok else 'MISSED'}" for name, ok in r["checks"].items())
    lines.append(f"verdict: {'meets' if r['meets_targets'] else 'MISSES'} the targets ({checks})")
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


def _ms(p: dict) -> str:
    if not p.get("n"):
        return "no samples"
    return f"p50 {p['p50_ms']:.0f} ms, p95 {p['p95_ms']:.0f} ms, max {p['max_ms']:.0f} ms"


def _f(x) -> str:
    return "  n/a" if x is None else f"{x:.3f}"


def format_coverage(r: dict) -> str:
    t = r["target"]
    lines = [f"Coverage on {r['dataset']} ({len(r['articles'])} articles, {len(r['folds'])} folds, "
             f"{r['limit_per_side_per_fold'] or 'all'} questions per side per fold, embedder {r['embedder']})",
             f"{'fold':<6}{'in the class':<44}{'on ans.':>8}{'off ans.':>9}{'on R@5':>8}  latency"]
    for f in r["folds"]:
        lines.append(f"{f['fold']:<6}{', '.join(f['in_class'])[:43]:<44}{_f(f['on_topic_answered']):>8}"
                     f"{_f(f['off_topic_answered']):>9}{_f(f['on_topic_recall@5']):>8}  {_ms(f['latency'])}")
    o = r["overall"]
    sizes = f"{o['on_topic_questions']} on-topic, {o['off_topic_questions']} off-topic"
    lines.append(f"{'all':<6}{sizes:<44}"
                 f"{_f(o['on_topic_answered']):>8}{_f(o['off_topic_answered']):>9}{_f(o['on_topic_recall@5']):>8}"
                 f"  {_ms(o['latency'])}")
    verdict = "meets" if o["meets_target"] else "misses"
    lines.append(f"target: off-topic answered <= {t['off_topic_answered_max']:.2f} with on-topic answered >= "
                 f"{t['on_topic_answered_min']:.2f}: {verdict} it")
    lines.append("(answered = not 'nothing found'; on R@5 = answered and a gold answer in the first 5 cited passages)")
    return "\n".join(lines)


def format_definitions(r: dict, verbose: bool = False) -> str:
    m = r["mining"]
    lines = [
        f"Definitions on {r['dataset']} ({r['files']} files, {r['chunks']} chunks in one class, embedder {r['embedder']})",
        f"  mined: {m['definitional_sentences']} definitional sentences, {m['distinct_terms']} terms, "
        f"{r['mined_questions']} defined once ({', '.join(f'{k} {v}' for k, v in m['by_pattern'].items())}); "
        f"asked {r['questions']}",
        f"  first citation on the defining page      {_f(r['first_citation_on_defining_page'])}",
        f"  defining page in the top 5 citations     {_f(r['defining_page_in_top5'])}",
        f"  first cited passage holds the sentence   {_f(r['first_citation_holds_sentence'])}",
        f"  answer's first 200 chars hold half the definition's words  {_f(r['answer_holds_half_the_definition'])}",
        f"  answered (not 'nothing found')           {_f(r['answered'])}",
        f"  ask latency {_ms(r['latency'])}; ingest {r['ingest_seconds']} s",
    ]
    lines += [f"  INGEST FAILED {f}" for f in r["ingest_failed"]]
    if verbose:
        rows = r["rows"]
        for row in rows[::max(1, len(rows) // 10)][:10]:  # spread over the documents
            page = f" p{row['page']}" if row["page"] else ""
            marks = " ".join(k for k in ("first_on_page", "top5_on_page", "words_in_answer") if row[k]) or "-"
            lines += ["", f"  Q: {row['question']}   [{row['pattern']}; gold {row['document']}{page}]",
                      f"     definition: {row['definition'][:160]}",
                      f"     answer: {row['answer'][:200]}",
                      f"     cited: {', '.join(row['cited']) or '-'}   hits: {marks}"]
    return "\n".join(lines)


def format_bench_ask(r: dict) -> str:
    source = "reused from " + r["db"] if r["cached_db"] else "built in this run"
    return "\n".join([
        f"Ask latency on a class of {r['chunks']} chunks ({r['documents']} files from {r['dataset']}, {source}: "
        f"{r['build_seconds']} s, {r['build_chunks_per_s']} chunks/s), model {r['model']}, {r['questions']} questions",
        f"  ask (ChatService.ask, end to end)      {_ms(r['ask'])}",
        f"  retrieval only (embed + search, k={r['retrieval_k']})  {_ms(r['retrieval_only'])}",
        f"  query embedding only                  {_ms(r['query_embedding_only'])}",
        f"  ask minus retrieval (per question)    {_ms(r['ask_minus_retrieval'])}",
        f"  answered {_f(r['answered'])}, {r['mean_citations']} citations per answer; index build "
        f"{r['index_build_s']} s, first ask {r['first_ask_s']} s",
        f"  (load average {r['load_average_1m']} on {r['cpu_count']} CPUs)",
    ])
