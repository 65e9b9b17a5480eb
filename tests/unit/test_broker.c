/*
 * The broker interface's shared pieces: error reporting, asset classes by
 * symbol form, and OCC option symbols.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker.h"
#include "error.h"

static void test_broker_fail_fills_error(void **state)
{
    (void)state;
    hydra_broker_err err;
    memset(&err, 0x5a, sizeof err);
    assert_int_equal(
        hydra_broker_fail(&err, HYDRA_EREJECTED, 403, "insufficient %s (%d)", "qty", 7),
        HYDRA_EREJECTED);
    assert_int_equal(err.code, HYDRA_EREJECTED);
    assert_int_equal(err.http_status, 403);
    assert_string_equal(err.msg, "insufficient qty (7)");
    /* A NULL err is allowed: the code still comes back. */
    assert_int_equal(hydra_broker_fail(NULL, HYDRA_ETRANSIENT, 0, "x"), HYDRA_ETRANSIENT);
    /* Long messages are cut to the buffer, always terminated. */
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    hydra_broker_fail(&err, HYDRA_EMALFORMED, 0, "%s", big);
    assert_int_equal(strlen(err.msg), sizeof err.msg - 1);
}

static void test_asset_class_by_form(void **state)
{
    (void)state;
    static const struct {
        const char *symbol;
        unsigned cls;
    } cases[] = {
        {"AAPL", HYDRA_ASSET_EQUITY},
        {"BTC/USD", HYDRA_ASSET_CRYPTO},
        {"ETH/USD", HYDRA_ASSET_CRYPTO},
        {"AAPL240126P00050000", HYDRA_ASSET_OPTION},
        {"SPY260116C00480000", HYDRA_ASSET_OPTION},
        {"F240119C00012500", HYDRA_ASSET_OPTION},
        {"BRK.B", HYDRA_ASSET_EQUITY},
        {"AAPL240126X00050000", HYDRA_ASSET_EQUITY}, /* neither C nor P */
        {"", HYDRA_ASSET_EQUITY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(hydra_symbol_asset_class(cases[i].symbol), cases[i].cls);
}

static void test_occ_parse_and_format_round_trip(void **state)
{
    (void)state;
    static const struct {
        const char *occ;
        const char *root;
        int expiry;
        int is_call;
        double strike;
    } cases[] = {
        {"AAPL240126P00050000", "AAPL", 20240126, 0, 50.0},
        {"SPY260116C00480000", "SPY", 20260116, 1, 480.0},
        {"F240119C00012500", "F", 20240119, 1, 12.5},          /* 1-char root, fractional strike */
        {"AAPL1231103C00170000", "AAPL1", 20231103, 1, 170.0}, /* adjusted root */
        {"XYZ250321P00001234", "XYZ", 20250321, 0, 1.234},     /* thousandths */
        {"GOOGLE991231C99999999", "GOOGLE", 20991231, 1, 99999.999},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char root[8];
        int expiry = 0, is_call = -1;
        double strike = 0;
        assert_int_equal(
            hydra_occ_parse(cases[i].occ, root, sizeof root, &expiry, &is_call, &strike), 0);
        assert_string_equal(root, cases[i].root);
        assert_int_equal(expiry, cases[i].expiry);
        assert_int_equal(is_call, cases[i].is_call);
        assert_true(strike == cases[i].strike);

        char out[32];
        assert_int_equal(hydra_occ_format(root, expiry, is_call, strike, out, sizeof out), 0);
        assert_string_equal(out, cases[i].occ);
    }
}

static void test_occ_parse_rejects_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL,
        "",
        "AAPL",
        "240126P00050000",        /* no root */
        "ABCDEFG240126P00050000", /* root of 7 */
        "aapl240126P00050000",    /* lower case */
        "AAPL241326P00050000",    /* month 13 */
        "AAPL240100P00050000",    /* day 0 */
        "AAPL240126Q00050000",    /* neither C nor P */
        "AAPL240126P0005000",     /* 7 strike digits */
        "AAPL240126P0005000X",    /* non-digit strike */
        "AAPL240126P00000000",    /* zero strike */
        "AA PL240126P00050000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char root[8];
        int expiry;
        int is_call;
        double strike;
        assert_int_equal(hydra_occ_parse(bad[i], root, sizeof root, &expiry, &is_call, &strike),
                         HYDRA_EINVAL);
    }
    /* A root buffer too small for the root is refused, not overrun. */
    char tiny[3];
    assert_int_equal(hydra_occ_parse("AAPL240126P00050000", tiny, sizeof tiny, NULL, NULL, NULL),
                     HYDRA_EINVAL);
}

static void test_occ_format_rejects_bad_input(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(hydra_occ_format("", 20240126, 1, 50, out, sizeof out), HYDRA_EINVAL);
    assert_int_equal(hydra_occ_format("TOOLONG", 20240126, 1, 50, out, sizeof out), HYDRA_EINVAL);
    assert_int_equal(hydra_occ_format("aapl", 20240126, 1, 50, out, sizeof out), HYDRA_EINVAL);
    assert_int_equal(hydra_occ_format("AAPL", 20241326, 1, 50, out, sizeof out), HYDRA_EINVAL);
    assert_int_equal(hydra_occ_format("AAPL", 20240126, 1, 0, out, sizeof out), HYDRA_EINVAL);
    assert_int_equal(hydra_occ_format("AAPL", 20240126, 1, 100000.0, out, sizeof out),
                     HYDRA_EINVAL);
    assert_int_equal(hydra_occ_format("AAPL", 20240126, 1, NAN, out, sizeof out), HYDRA_EINVAL);
    assert_int_equal(hydra_occ_format("AAPL", 20240126, 1, 50, out, 10), HYDRA_EFULL);
    /* Sub-thousandth strikes round to the nearest thousandth. */
    assert_int_equal(hydra_occ_format("SPY", 20260116, 0, 480.0004, out, sizeof out), 0);
    assert_string_equal(out, "SPY260116P00480000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_fail_fills_error),
        cmocka_unit_test(test_asset_class_by_form),
        cmocka_unit_test(test_occ_parse_and_format_round_trip),
        cmocka_unit_test(test_occ_parse_rejects_malformed),
        cmocka_unit_test(test_occ_format_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
