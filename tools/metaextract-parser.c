/*
 * metaextract-parser: the sandboxed worker process in which
 * libmetaextract runs format parsers. The library starts it with a
 * socket on descriptor 3; it is not meant to be run by hand.
 */
#include "metaextract.h"

int main(int argc, char **argv)
{
	return mx_parser_worker_main(argc, argv);
}
