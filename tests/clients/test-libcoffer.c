// SPDX-License-Identifier: ISC
/*
 * libcoffer through its installed header only, linked against the shared
 * library (so only coffer_* is visible):
 *   test-libcoffer                      config and argument errors
 *   test-libcoffer ADDR SERVER_PUB KEY  fetches from a fake-appliance there
 */
#include <coffer.h>

#include <stdio.h>
#include <string.h>

#include "unit.h"

static void offline(void)
{
	struct coffer_config *cfg = coffer_config_new();
	struct coffer_client *c = (struct coffer_client *)1;
	uint8_t pt[COFFER_POINT_LEN] = {4};

	TEST_START("config errors");
	ASSERT_TRUE(cfg != NULL);
	ASSERT_INT_EQ(coffer_config_add_server(cfg, "no-port", NULL), COFFER_E_CONFIG);
	ASSERT_TRUE(strstr(coffer_last_error(), "no-port") != NULL);
	ASSERT_INT_EQ(coffer_config_add_server(cfg, "::1:7", NULL), COFFER_E_CONFIG);
	ASSERT_INT_EQ(coffer_config_add_server(cfg, "h:99999", NULL), COFFER_E_CONFIG);
	ASSERT_INT_EQ(coffer_client_new(cfg, &c), COFFER_E_CONFIG);
	ASSERT_TRUE(c == NULL);
	ASSERT_TRUE(strstr(coffer_last_error(), "no server") != NULL);
	ASSERT_INT_EQ(coffer_config_add_server(cfg, "[::1]:9187", NULL), COFFER_OK);
	ASSERT_INT_EQ(coffer_client_new(cfg, &c), COFFER_E_CONFIG);
	ASSERT_TRUE(strstr(coffer_last_error(), "pinned") != NULL);
	ASSERT_INT_EQ(coffer_config_set_server_key_point(cfg, pt), COFFER_E_CONFIG);
	ASSERT_INT_EQ(coffer_config_set_server_key_file(cfg, "/nonexistent.pem"), COFFER_OK);
	ASSERT_INT_EQ(coffer_client_new(cfg, &c), COFFER_E_CONFIG);
	ASSERT_INT_EQ(coffer_config_set_key_pkcs11(cfg, "pkcs11:object=x", NULL, NULL),
	              COFFER_E_CONFIG);
	ASSERT_INT_EQ(coffer_config_set_key_pkcs11(cfg, "not-a-uri", "/m.so", NULL),
	              COFFER_E_CONFIG);
	ASSERT_INT_EQ(coffer_config_set_timeout_ms(cfg, 3600001), COFFER_E_CONFIG);
	coffer_config_free(cfg);
	coffer_config_free(NULL);
	coffer_client_free(NULL);
	coffer_result_free(NULL);
	ASSERT_SIZE_EQ(coffer_result_count(NULL), 0);
	ASSERT_TRUE(coffer_result_item(NULL, 0) == NULL);
	ASSERT_STR_EQ(coffer_strerror(COFFER_E_UNKNOWN_CLIENT),
	              "unknown client (key not registered)");
	ASSERT_STR_EQ(coffer_type_name(COFFER_LOCAL_DATE), "local-date");
	TEST_DONE();
}

static void online(const char *addr, const char *server_pub, const char *key)
{
	struct coffer_config *cfg = coffer_config_new();
	struct coffer_client *c = NULL;
	struct coffer_result *res = NULL;
	const struct coffer_item *it;
	const char *only[] = {"TLS", "RATIO", "TRICKY"};
	char id[COFFER_IDENTITY_TEXT_LEN + 1];

	TEST_START("fetch all, typed items");
	ASSERT_INT_EQ(coffer_config_add_server(cfg, "127.0.0.1:1", NULL), COFFER_OK);
	ASSERT_INT_EQ(coffer_config_add_server(cfg, addr, NULL), COFFER_OK);
	ASSERT_INT_EQ(coffer_config_set_server_key_file(cfg, server_pub), COFFER_OK);
	ASSERT_INT_EQ(coffer_config_set_key_file(cfg, key), COFFER_OK);
	ASSERT_INT_EQ(coffer_config_set_timeout_ms(cfg, 2000), COFFER_OK);
	ASSERT_INT_EQ(coffer_client_new(cfg, &c), COFFER_OK);
	coffer_config_free(cfg);
	ASSERT_INT_EQ(coffer_client_identity(c, id), COFFER_OK);
	ASSERT_SIZE_EQ(strlen(id), COFFER_IDENTITY_TEXT_LEN);
	ASSERT_INT_EQ(coffer_fetch(c, NULL, 0, &res), COFFER_OK);
	ASSERT_SIZE_EQ(coffer_result_count(res), 15);
	ASSERT_STR_EQ(coffer_result_server(res), addr);
	it = coffer_result_item(res, 0);
	ASSERT_TRUE(it != NULL && it->type == COFFER_STRING &&
	            strcmp(it->key, "DB_PASSWORD") == 0 && it->v.str.len == 6 &&
	            memcmp(it->v.str.ptr, "s3cr3t", 6) == 0);
	it = coffer_result_find(res, "PORT");
	ASSERT_TRUE(it != NULL && it->type == COFFER_INTEGER && it->v.i == 5432);
	it = coffer_result_find(res, "NEG");
	ASSERT_TRUE(it != NULL && it->type == COFFER_INTEGER && it->v.i == INT64_MIN);
	it = coffer_result_find(res, "RATIO");
	ASSERT_TRUE(it != NULL && it->type == COFFER_FLOAT && it->v.f == 0.75);
	it = coffer_result_find(res, "OFF");
	ASSERT_TRUE(it != NULL && it->type == COFFER_BOOL && it->v.b == 0);
	it = coffer_result_find(res, "ROTATED");
	ASSERT_TRUE(it != NULL && it->type == COFFER_DATETIME &&
	            strcmp(it->v.str.ptr, "2026-11-01T12:00:00Z") == 0);
	it = coffer_result_find(res, "LT");
	ASSERT_TRUE(it != NULL && it->type == COFFER_LOCAL_TIME);
	it = coffer_result_find(res, "EMPTY");
	ASSERT_TRUE(it != NULL && it->v.str.len == 0 && it->v.str.ptr[0] == '\0');
	ASSERT_TRUE(coffer_result_find(res, "NOPE") == NULL);
	ASSERT_TRUE(coffer_result_item(res, 15) == NULL);
	coffer_result_free(res);
	res = NULL;
	TEST_DONE();

	TEST_START("fetch named");
	ASSERT_INT_EQ(coffer_fetch(c, only, 3, &res), COFFER_OK);
	ASSERT_SIZE_EQ(coffer_result_count(res), 3);
	ASSERT_TRUE(coffer_result_find(res, "TRICKY") != NULL);
	ASSERT_TRUE(coffer_result_find(res, "PORT") == NULL);
	coffer_result_free(res);
	res = NULL;
	only[1] = "MISSING";
	ASSERT_INT_EQ(coffer_fetch(c, only, 3, &res), COFFER_E_NOT_FOUND);
	ASSERT_TRUE(res == NULL);
	only[1] = "";
	ASSERT_INT_EQ(coffer_fetch(c, only, 3, &res), COFFER_E_CONFIG);
	TEST_DONE();
	coffer_client_free(c);
}

int main(int argc, char **argv)
{
	offline();
	if (argc == 4)
		online(argv[1], argv[2], argv[3]);
	else if (argc != 1)
		fprintf(stderr, "usage: test-libcoffer [ADDR SERVER_PUB KEY]\n");
	return unit_finish("clients/libcoffer");
}
