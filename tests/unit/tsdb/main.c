/* Runs the tsdb test groups: one cmocka binary for the module, one group per source file. Groups
 * whose file is not written yet are weak symbols and are skipped. */
#include <stddef.h>

int tsdb_wal_tests(void);
extern int tsdb_chunk_tests(void) __attribute__((weak));
extern int tsdb_odin_chunk_tests(void) __attribute__((weak));
extern int tsdb_block_tests(void) __attribute__((weak));
extern int tsdb_db_tests(void) __attribute__((weak));
extern int tsdb_compact_tests(void) __attribute__((weak));
extern int tsdb_migrate_tests(void) __attribute__((weak));
extern int tsdb_querier_tests(void) __attribute__((weak));
extern int tsdb_gc_tests(void) __attribute__((weak));
extern int tsdb_head_tests(void) __attribute__((weak));
extern int tsdb_appender_tests(void) __attribute__((weak));
extern int tsdb_head_chunks_tests(void) __attribute__((weak));
extern int tsdb_checkpoint_tests(void) __attribute__((weak));
extern int tsdb_head_split_tests(void) __attribute__((weak));
extern int tsdb_head_card_tests(void) __attribute__((weak));

int main(void)
{
    int f = 0;
    f += tsdb_wal_tests();
    if (tsdb_chunk_tests != NULL) {
        f += tsdb_chunk_tests();
    }
    if (tsdb_odin_chunk_tests != NULL) {
        f += tsdb_odin_chunk_tests();
    }
    if (tsdb_block_tests != NULL) {
        f += tsdb_block_tests();
    }
    if (tsdb_db_tests != NULL) {
        f += tsdb_db_tests();
    }
    if (tsdb_compact_tests != NULL) {
        f += tsdb_compact_tests();
    }
    if (tsdb_migrate_tests != NULL) {
        f += tsdb_migrate_tests();
    }
    if (tsdb_querier_tests != NULL) {
        f += tsdb_querier_tests();
    }
    if (tsdb_gc_tests != NULL) {
        f += tsdb_gc_tests();
    }
    if (tsdb_head_tests != NULL) {
        f += tsdb_head_tests();
    }
    if (tsdb_appender_tests != NULL) {
        f += tsdb_appender_tests();
    }
    if (tsdb_head_chunks_tests != NULL) {
        f += tsdb_head_chunks_tests();
    }
    if (tsdb_checkpoint_tests != NULL) {
        f += tsdb_checkpoint_tests();
    }
    if (tsdb_head_split_tests != NULL) {
        f += tsdb_head_split_tests();
    }
    if (tsdb_head_card_tests != NULL) {
        f += tsdb_head_card_tests();
    }
    return f != 0;
}
