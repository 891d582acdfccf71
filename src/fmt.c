#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"

const struct fmt_ops *const fmt_backends[] = {
#ifdef MX_TESTING
	&fmt_test_ops,	/* files that start with "MXTEST:" only */
#endif
#ifdef MX_HAVE_HDF5
	&fmt_hdf5_ops,	/* first: libavformat guesses MP3 for HDF5 files
			   that start with a user block */
#endif
#ifdef MX_HAVE_MEDIA
	&fmt_av_ops,
#endif
	NULL,
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;
static char init_message[128];

static void init_all(void)
{
	size_t i;

	for (i = 0; fmt_backends[i]; i++) {
		int ret = fmt_backends[i]->init ? fmt_backends[i]->init() : 0;

		if (ret < 0) {
			init_result = ret;
			snprintf(init_message, sizeof(init_message),
				 "%s backend setup failed: %s",
				 fmt_backends[i]->name, strerror(-ret));
			return;
		}
	}
}

int fmt_init_all(char *msg, size_t msg_len)
{
	pthread_once(&init_once, init_all);
	if (init_result < 0)
		snprintf(msg, msg_len, "%s", init_message);
	return init_result;
}
