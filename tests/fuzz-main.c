// SPDX-License-Identifier: ISC
/*
 * Stand-alone driver for the fuzz harnesses when they are not built with
 * libFuzzer: runs LLVMFuzzerTestOneInput over every file named on the command
 * line (directories are walked one level), so the seed corpora and every
 * crash input kept in them stay regression tests in every build.
 * `--seeds DIR` writes the seeds of a harness that makes them by code.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
/* Harnesses whose seeds are made by code define it (tests/fuzz/fuzz.h). */
int fuzz_seeds(const char *dir) __attribute__((weak));

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	long len;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "cannot read %s\n", path);
		if (f != NULL)
			fclose(f);
		return 1;
	}
	/* An exact-size heap copy, so ASan sees any over-read. */
	if ((data = malloc(len > 0 ? (size_t)len : 1)) == NULL ||
	    fread(data, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "cannot read %s\n", path);
		fclose(f);
		free(data);
		return 1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, (size_t)len);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	int i, n = 0, bad = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc == 3 && strcmp(argv[1], "--seeds") == 0) {
		if (fuzz_seeds == NULL) {
			fprintf(stderr, "this harness has no generated seeds\n");
			return 2;
		}
		return fuzz_seeds(argv[2]) == 0 ? 0 : 1;
	}
	for (i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "no such corpus: %s\n", argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			char path[4096];
			if (d == NULL)
				return 1;
			while ((e = readdir(d)) != NULL) {
				if (e->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
				bad |= run_file(path);
				n++;
			}
			closedir(d);
		} else {
			bad |= run_file(argv[i]);
			n++;
		}
	}
	printf("%d inputs run\n", n);
	if (n == 0) {
		fprintf(stderr, "empty corpus\n");
		return 1;
	}
	return bad;
}
