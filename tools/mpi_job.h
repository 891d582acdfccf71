/*
 * metaextract --mpi: one rank of an MPI job. The ranks walk the input
 * together and balance it by work stealing; each writes its own output
 * shard, which rank 0 merges at the end. MPI is called only from the
 * thread that calls these functions (MPI_THREAD_FUNNELED).
 */
#ifndef MX_TOOLS_MPI_JOB_H
#define MX_TOOLS_MPI_JOB_H

#include <stdbool.h>

#include "metaextract.h"

struct mpi_job;

enum mpi_output {
	MPI_OUTPUT_SQLITE,	/* shards merged with metaextract merge */
	MPI_OUTPUT_TEXT,	/* JSON Lines: shards concatenated */
	MPI_OUTPUT_CSV,		/* concatenated, one header kept */
};

/* Initialises MPI and joins the job. Prints its errors; 0 or -EIO. */
int mpi_job_start(int *argc, char ***argv, struct mpi_job **out);

int mpi_job_rank(const struct mpi_job *j);

/* Ends every rank of the job at once with status, after a failed setup. */
void mpi_job_abort(struct mpi_job *j, int status);

/* The output shard of this rank: "OUTPUT.rank-R", freed with free(). */
char *mpi_job_shard_path(const struct mpi_job *j, const char *output);

/*
 * Collective. With an SQLite output, rank 0 first merges into output the
 * shards that a killed run left behind and deletes them, so that this
 * run's lookups in output find their rows. Returns 0 on every rank, or
 * -EIO on every rank when that failed.
 */
int mpi_job_prepare_output(struct mpi_job *j, const char *output,
			   bool sqlite, bool quiet);

/* Rank 0: queues a PATH of the command line for the walk. */
int mpi_job_add_root(void *job, const char *path);

/*
 * Collective. Walks and reads the queued PATHs on all ranks until the
 * job runs out of work or stops. threads is the batch's setting (0: one
 * loop per CPU), which bounds the files handed to it at once. error is a
 * negative errno when this rank could not queue its PATHs, which stops
 * the job. Returns error, -ECANCELED after a stop on any rank, or 0.
 */
int mpi_job_walk(struct mpi_job *j, struct mx_batch *b, unsigned threads,
		 int error);

/*
 * Collective, after mx_batch_finish(). Gathers the counters of every
 * rank. Rank 0 prints the job's summary unless quiet, and sets
 * *ranks_json to the "mpi" member of --stats (freed with free()).
 * Returns the highest exit status of the ranks.
 */
int mpi_job_gather(struct mpi_job *j, const struct mx_summary *sum,
		   int status, bool quiet, char **ranks_json);

/*
 * Collective, after the shards are closed. Rank 0 merges them into
 * output and deletes them. Leaves MPI and frees j; returns the exit
 * status of the rank, raised to 2 when the merge failed.
 */
int mpi_job_finish(struct mpi_job *j, const char *output,
		   enum mpi_output kind, int status, bool quiet);

#endif
