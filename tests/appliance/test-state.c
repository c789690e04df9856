// SPDX-License-Identifier: ISC
/* Unit tests of the identity -> shard index and state reference counting. */
#include "state.h"

#include <string.h>

#include <openssl/evp.h>

#include "unit.h"

int main(void)
{
	struct state_client cl[3];
	struct appl_state *st = NULL;
	uint8_t id[IDENTITY_LEN], pt[P256_POINT_LEN];
	EVP_PKEY *k = NULL;

	memset(cl, 0, sizeof(cl));
	cl[0].name = "web";
	memset(cl[0].id, 0x30, IDENTITY_LEN);
	cl[1].name = "db";
	memset(cl[1].id, 0x10, IDENTITY_LEN);
	cl[2].name = "cache";
	ASSERT_INT_EQ(pkey_generate_p256(&k), 0);
	ASSERT_INT_EQ(pkey_identity(k, cl[2].id), 0);
	ASSERT_INT_EQ(pkey_to_point(k, cl[2].point), 0);
	cl[2].have_point = 1;

	TEST_START("find by identity and by point");
	ASSERT_INT_EQ(state_from_clients(cl, 3, &st), 0);
	ASSERT_SIZE_EQ(st->n, 3);
	memset(id, 0x10, sizeof(id));
	ASSERT_STR_EQ(state_find(st, id)->name, "db");
	memset(id, 0x30, sizeof(id));
	ASSERT_STR_EQ(state_find(st, id)->name, "web");
	memset(id, 0x20, sizeof(id));
	ASSERT_TRUE(state_find(st, id) == NULL);
	ASSERT_STR_EQ(state_find_point(st, cl[2].point)->name, "cache");
	memcpy(pt, cl[2].point, sizeof(pt));
	pt[64] ^= 1; /* off the curve */
	ASSERT_TRUE(state_find_point(st, pt) == NULL);
	TEST_DONE();

	TEST_START("references");
	ASSERT_PTR_EQ(state_ref(st), st);
	state_unref(st);
	state_unref(st);
	state_unref(NULL);
	TEST_DONE();

	TEST_START("duplicate identities refused");
	memcpy(cl[1].id, cl[0].id, IDENTITY_LEN);
	ASSERT_INT_EQ(state_from_clients(cl, 3, &st), ERR_FORMAT);
	ASSERT_TRUE(st == NULL);
	ASSERT_INT_EQ(state_from_clients(NULL, 0, &st), 0);
	memset(id, 0, sizeof(id));
	ASSERT_TRUE(state_find(st, id) == NULL);
	state_unref(st);
	TEST_DONE();
	EVP_PKEY_free(k);
	return unit_finish("appliance/state");
}
