/* Runs the expfmt test groups: one cmocka binary for the module, one group per source file. */
int expfmt_parser_tests(void);
int expfmt_writer_tests(void);

int main(void)
{
    int f = 0;
    f += expfmt_parser_tests();
    f += expfmt_writer_tests();
    return f != 0;
}
