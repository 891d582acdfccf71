/* metaextract bench: storage throughput and latency on the user's files. */
#ifndef MX_TOOLS_BENCH_H
#define MX_TOOLS_BENCH_H

/* Runs "metaextract bench ARGS..."; argv[0] is "bench". Returns the exit
   status. */
int bench_main(int argc, char **argv);

#endif
