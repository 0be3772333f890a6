/*
 * Subcommands of attnbench. Each takes argv starting at the command name
 * and returns the process exit status: 0 success, 1 a failed check or
 * regression, 2 command-line misuse.
 */
#ifndef ATB_COMMANDS_H
#define ATB_COMMANDS_H

#ifdef __cplusplus
extern "C" {
#endif

int atb_cmd_list(int argc, char **argv);
int atb_cmd_check(int argc, char **argv);
int atb_cmd_bench(int argc, char **argv);
int atb_cmd_peak(int argc, char **argv);
int atb_cmd_report(int argc, char **argv);
int atb_cmd_compare(int argc, char **argv);
int atb_cmd_vectors(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* ATB_COMMANDS_H */
