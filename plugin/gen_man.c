/* gen_man: writes collectd-wedata_rerun(5) as POD to stdout, its option
 * lists generated from the plugin's own option table (wdr_config_doc), so
 * that the man page cannot drift from what the plugin accepts. Each option
 * gets its type, default, range and an example; an option of the table
 * without an example here makes the program fail (exit 1, naming it), so
 * a new option cannot be left out. Built by `make man`, turned into
 * troff by pod2man. */
#include "wdr_config.h"

#include <stdio.h>
#include <string.h>

/* One example line per option, as it is written in collectd.conf. */
static const struct {
  const char *key, *example;
} examples[] = {
    {"Endpoint", "Endpoint \"https://wedata.tencentcloudapi.com\""},
    {"Region", "Region \"ap-guangzhou\""},
    {"SecretId", "SecretId \"AKID...\""},
    {"SecretKey", "SecretKey \"...\""},
    {"SecretKeyFile", "SecretKeyFile \"/etc/collectd/wedata.key\""},
    {"SessionToken", "SessionToken \"...\""},
    {"CredentialSource", "CredentialSource \"cvm-role\""},
    {"Profile", "Profile \"ops\""},
    {"RoleName", "RoleName \"wedata-rerun\""},
    {"MetadataEndpoint", "MetadataEndpoint \"http://metadata.tencentyun.com\""},
    {"CACert", "CACert \"/etc/ssl/certs/ca-certificates.crt\""},
    {"VerifyPeer", "VerifyPeer true"},
    {"Timeout", "Timeout 10"},
    {"Language", "Language \"en-US\""},
    {"QueueLimit", "QueueLimit 16384"},
    {"Workers", "Workers 2"},
    {"MaxRequestRetries", "MaxRequestRetries 5"},
    {"RateLimit", "RateLimit 10"},
    {"BreakerThreshold", "BreakerThreshold 10"},
    {"BreakerCooldown", "BreakerCooldown 60"},
    {"DryRun", "DryRun true"},
    {"StateFile", "StateFile \"/var/lib/collectd/wedata_rerun.state\""},
    {"StateRetention", "StateRetention 604800"},
    {"PermanentHold", "PermanentHold 3600"},
    {"MaxTrackedRuns", "MaxTrackedRuns 100000"},
    {"PollInterval", "PollInterval 60"},
    {"PollLookback", "PollLookback 86400"},
    {"AsyncPollInterval", "AsyncPollInterval 5"},
    {"AsyncTimeout", "AsyncTimeout 3600"},
    {"ProjectId", "ProjectId \"1460947878944567296\""},
    {"WorkflowId", "WorkflowId \"0fae8078-a7a7-4b67-afd1-8bf18e068dda\""},
    {"ExecuteType", "ExecuteType 2"},
    {"SchedulingResourceGroup", "SchedulingResourceGroup \"rg-sched\""},
    {"IntegrationResourceGroup", "IntegrationResourceGroup \"rg-integ\""},
    {"MaxAttempts", "MaxAttempts 3"},
    {"RetryInterval", "RetryInterval 60"},
    {"MaxRetryInterval", "MaxRetryInterval 3600"},
    {"MaxRerunsPerHour", "MaxRerunsPerHour 20"},
    {"Poll", "Poll true"},
    {"VerifyBeforeRerun", "VerifyBeforeRerun true"},
    {"TaskScope", "TaskScope \"incomplete\""},
    {"EscalateToFull", "EscalateToFull true"},
    {"TrackAsync", "TrackAsync true"},
};

static const char *example_of(const char *key) {
  for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
    if (strcasecmp(examples[i].key, key) == 0)
      return examples[i].example;
  return NULL;
}

/* The README's `code` becomes POD's C<code>; < and > are escaped. */
static void pod_text(const char *s) {
  bool code = false;
  for (; *s != '\0'; s++) {
    if (*s == '`') {
      fputs(code ? ">" : "C<", stdout);
      code = !code;
    } else if (*s == '<')
      fputs("E<lt>", stdout);
    else if (*s == '>')
      fputs("E<gt>", stdout);
    else
      putchar(*s);
  }
  if (code)
    putchar('>');
}

/* The options of one scope as a POD list; -1 when one has no example. */
static int options(wdr_config_scope_t scope) {
  int status = 0;
  puts("=over 4\n");
  for (size_t i = 0; i < wdr_config_doc_count(scope); i++) {
    wdr_config_doc_t d;
    if (wdr_config_doc(scope, i, &d) != 0)
      return -1;
    const char *example = example_of(d.key);
    if (example == NULL) {
      fprintf(stderr, "gen_man: option %s has no example: add one\n", d.key);
      status = -1;
      continue;
    }
    printf("=item B<%s> I<%s>\n\n", d.key, d.type);
    pod_text(d.meaning);
    if (d.required)
      printf("\n\nRequired");
    else if (d.default_text[0] != '\0')
      printf("\n\nDefault: C<%s>", d.default_text);
    else
      printf("\n\nDefault: none");
    if (d.range[0] != '\0')
      printf("; range: %s", d.range);
    printf("\n\n");
    printf("Example:\n\n    %s\n\n", example);
  }
  puts("=back\n");
  return status;
}

int main(void) {
  puts("=encoding utf8\n\n=head1 NAME\n\n"
       "collectd-wedata_rerun - collectd plugin that reruns failed Tencent "
       "Cloud WeData workflow runs\n\n"
       "=head1 SYNOPSIS\n\n"
       "    LoadPlugin wedata_rerun\n"
       "    <Plugin wedata_rerun>\n"
       "      Region \"ap-guangzhou\"\n"
       "      SecretId \"AKID...\"\n"
       "      SecretKeyFile \"/etc/collectd/wedata.key\"\n"
       "      <Workflow \"nightly_etl\">\n"
       "        ProjectId \"1460947878944567296\"\n"
       "        WorkflowId \"0fae8078-a7a7-4b67-afd1-8bf18e068dda\"\n"
       "        ExecuteType 1\n"
       "        Poll true\n"
       "      </Workflow>\n"
       "    </Plugin>\n\n"
       "=head1 DESCRIPTION\n\n"
       "The B<wedata_rerun> plugin reruns failed WeData workflow runs through "
       "the API action RerunTriggerWorkflowRunAsync (version 2025-08-06), "
       "when a collectd notification says a run failed or when it finds one "
       "by listing the runs (B<Poll>), and reports every attempt, AsyncId and "
       "error code as collectd values and notifications. Option names are "
       "case-insensitive; unknown options, options given twice and values of "
       "the wrong type are errors.\n\n"
       "=head1 PLUGIN OPTIONS\n");
  int status = options(WDR_CONFIG_PLUGIN);
  puts("=head1 WORKFLOW OPTIONS\n\n"
       "One B<E<lt>Workflow> I<name>B<E<gt>> block per workflow; the name is "
       "the values' plugin instance.\n");
  status |= options(WDR_CONFIG_WORKFLOW);
  puts("=over 4\n\n"
       "=item B<TaskId> I<id> [I<id> ...]\n\n"
       "ExecuteType 2 only: the tasks to run; repeatable.\n\n"
       "Example:\n\n    TaskId \"task-a\" \"task-b\"\n\n"
       "=item B<AdvancedParam> I<key> I<value>\n\n"
       "ExecuteType 2 only: a run parameter; repeatable.\n\n"
       "Example:\n\n    AdvancedParam \"bizdate\" \"20261127\"\n\n"
       "=item B<E<lt>Match>B<E<gt>>\n\n"
       "Which notifications mean \"this workflow failed\": B<Severity> "
       "(failure, warning or okay), B<Host>, B<Plugin>, B<PluginInstance>, "
       "B<Type>, B<TypeInstance>, each exact text or a regular expression "
       "between slashes. At least one unless B<Poll> is true. The run is the "
       "notification's string meta WorkflowExecutionId.\n\n"
       "Example:\n\n    <Match>\n      Plugin \"wedata\"\n"
       "      TypeInstance \"/^failed$/\"\n    </Match>\n\n"
       "=back\n\n"
       "=head1 FILES\n\n"
       "The state file (B<StateFile>, with its .journal and .lock), the "
       "credential profile files ~/.tencentcloud/credentials and "
       "/etc/tencentcloud/credentials.\n\n"
       "=head1 SEE ALSO\n\n"
       "L<collectd(1)>, L<collectd.conf(5)>, the README of wedata_rerun.\n");
  return status == 0 ? 0 : 1;
}
