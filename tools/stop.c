#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "stop.h"

static sigset_t stop_set;
static pthread_t main_thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mx_batch *current;	/* under lock */
static atomic_int received;
static const char *finishing = "the files in flight";

/* Interrupts a blocking read in the main thread; does nothing itself. */
static void on_wake(int sig)
{
	(void)sig;
}

static void *wait_for_signals(void *arg)
{
	int sig;

	(void)arg;
	if (sigwait(&stop_set, &sig) != 0)
		return NULL;
	/* The message first: main() may return once received is set. */
	fprintf(stderr, "metaextract: %s: stopping after %s; send it again "
		"to stop at once\n", strsignal(sig), finishing);
	atomic_store(&received, sig);
	pthread_mutex_lock(&lock);
	if (current)
		mx_batch_cancel(current);
	pthread_mutex_unlock(&lock);
	/* The main thread may be blocked reading a --files-from pipe. */
	pthread_kill(main_thread, SIGUSR2);
	if (sigwait(&stop_set, &sig) != 0)
		return NULL;
	signal(sig, SIG_DFL);
	pthread_sigmask(SIG_UNBLOCK, &stop_set, NULL);
	raise(sig);
	return NULL;
}

void stop_watch(void)
{
	/* No SA_RESTART: the interrupted read returns EINTR. */
	struct sigaction wake = { .sa_handler = on_wake };
	pthread_t thread;

	sigemptyset(&wake.sa_mask);
	sigaction(SIGUSR2, &wake, NULL);
	main_thread = pthread_self();
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGHUP);
	sigaddset(&stop_set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
	if (pthread_create(&thread, NULL, wait_for_signals, NULL) == 0)
		pthread_detach(thread);
}

void stop_set_batch(struct mx_batch *b)
{
	pthread_mutex_lock(&lock);
	current = b;
	/* A signal that came before this batch existed stops it at once. */
	if (b && atomic_load(&received))
		mx_batch_cancel(b);
	pthread_mutex_unlock(&lock);
}

int stop_signal(void)
{
	return atomic_load(&received);
}

void stop_describe(const char *what)
{
	finishing = what;
}
