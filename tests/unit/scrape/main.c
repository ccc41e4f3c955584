/* Runs the scrape test groups: one cmocka binary for the module, one group per source file. */
int scrape_config_tests(void);
int scrape_relabel_tests(void);
int scrape_config_paths_tests(void);
int scrape_loop_append_tests(void);

int main(void)
{
    int f = 0;
    f += scrape_config_tests();
    f += scrape_relabel_tests();
    f += scrape_config_paths_tests();
    f += scrape_loop_append_tests();
    return f != 0;
}
