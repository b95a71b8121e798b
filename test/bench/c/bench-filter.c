/*
 * The libmilter side of `npm run bench:milter`: a filter that registers the same callbacks as
 * the benchmark's filter on our engine and adds the same header at end of message, so both
 * receive the same events and send the same replies.
 *
 *   bench-filter -p unix:/path/to/socket|inet:PORT@127.0.0.1 [-m all|rcpt-eom]
 *
 * -m all       every event: connect, helo, envfrom, envrcpt, header, eoh, body, eom, abort, close
 * -m rcpt-eom  only envrcpt and eom (plus abort and close, which cost no packet): the callbacks
 *              that are not registered make libmilter request the matching SMFIP_NO* bits.
 *
 * Prints "ready" on stdout once the socket listens; exits on SIGTERM/SIGINT.
 * Build: cc -O2 -o bench-filter bench-filter.c -lmilter -lpthread
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <libmilter/mfapi.h>

#define ADDED_HEADER_NAME "X-OnionMX-Bench"
#define ADDED_HEADER_VALUE "passed"

/* Per-connection state, the counterpart of the per-connection handler object on our side. */
struct conn_state {
	unsigned long recipients;
	unsigned long headers;
	unsigned long body_bytes;
};

static struct conn_state *state_of(SMFICTX *ctx)
{
	struct conn_state *st = smfi_getpriv(ctx);
	if (st == NULL) {
		st = calloc(1, sizeof *st);
		if (st != NULL)
			smfi_setpriv(ctx, st);
	}
	return st;
}

static void reset_message(struct conn_state *st)
{
	if (st != NULL) {
		st->recipients = 0;
		st->headers = 0;
		st->body_bytes = 0;
	}
}

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr)
{
	(void)hostname;
	(void)addr;
	return state_of(ctx) == NULL ? SMFIS_TEMPFAIL : SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX *ctx, char *name)
{
	(void)ctx;
	(void)name;
	return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
	(void)argv;
	reset_message(state_of(ctx));
	return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn_state *st = state_of(ctx);
	(void)argv;
	if (st == NULL)
		return SMFIS_TEMPFAIL;
	st->recipients++;
	return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn_state *st = state_of(ctx);
	(void)name;
	(void)value;
	if (st != NULL)
		st->headers++;
	return SMFIS_CONTINUE;
}

static sfsistat on_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct conn_state *st = state_of(ctx);
	(void)chunk;
	if (st != NULL)
		st->body_bytes += len;
	return SMFIS_CONTINUE;
}

static sfsistat on_eom(SMFICTX *ctx)
{
	if (smfi_addheader(ctx, ADDED_HEADER_NAME, ADDED_HEADER_VALUE) != MI_SUCCESS)
		return SMFIS_TEMPFAIL;
	reset_message(state_of(ctx));
	return SMFIS_CONTINUE;
}

static sfsistat on_abort(SMFICTX *ctx)
{
	reset_message(smfi_getpriv(ctx));
	return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
	free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc filter = {
	"onionmx-bench-c",
	SMFI_VERSION,
	SMFIF_ADDHDRS,
	on_connect,
	on_helo,
	on_envfrom,
	on_envrcpt,
	on_header,
	on_eoh,
	on_body,
	on_eom,
	on_abort,
	on_close,
	NULL, /* unknown */
	NULL, /* data */
	NULL, /* negotiate: libmilter derives SMFIP_NO* from the NULL callbacks */
};

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s -p unix:/path|inet:PORT@127.0.0.1 [-m all|rcpt-eom]\n", argv0);
	exit(64); /* EX_USAGE */
}

int main(int argc, char **argv)
{
	const char *spec = NULL;
	const char *mode = "all";
	int c;

	while ((c = getopt(argc, argv, "p:m:")) != -1) {
		switch (c) {
		case 'p':
			spec = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (spec == NULL)
		usage(argv[0]);

	if (strcmp(mode, "rcpt-eom") == 0) {
		/* No connect state is created: envrcpt allocates it lazily, close frees it. */
		filter.xxfi_connect = NULL;
		filter.xxfi_helo = NULL;
		filter.xxfi_envfrom = NULL;
		filter.xxfi_header = NULL;
		filter.xxfi_eoh = NULL;
		filter.xxfi_body = NULL;
	} else if (strcmp(mode, "all") != 0) {
		usage(argv[0]);
	}

	if (smfi_setconn((char *)spec) != MI_SUCCESS) {
		fprintf(stderr, "bench-filter: bad socket spec %s\n", spec);
		return 64;
	}
	if (smfi_setbacklog(512) != MI_SUCCESS || smfi_register(filter) != MI_SUCCESS) {
		fprintf(stderr, "bench-filter: smfi_register failed\n");
		return 70; /* EX_SOFTWARE */
	}
	if (smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "bench-filter: cannot listen on %s\n", spec);
		return 71; /* EX_OSERR */
	}
	printf("ready\n");
	fflush(stdout);
	return smfi_main() == MI_SUCCESS ? 0 : 70;
}
