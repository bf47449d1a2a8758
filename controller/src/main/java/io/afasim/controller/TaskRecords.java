package io.afasim.controller;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.afasim.utmd.TaskInfo;
import io.afasim.utmd.TraceFormatter;
import io.afasim.utmd.TraceSnapshot;

/**
 * Admin records of tasks and trace events, built on the cluster agent's thread (command path: allocates).
 * <pre>
 * task.list            kind=task  id type state step volume started ended recovered outcome
 * task.show id=N       kind=task  (the same, plus args, keys, waitingFor) then kind=event records
 * trace [volume=V] [task=ID]
 *                      kind=event time task volume source event detail
 *                      e.g. time=+3.001234567s task=4 volume=vol1 source=volume-set-mode event=STEP_BEGIN
 *                           detail=2/2 quiesce-and-switch attempt=1
 * </pre>
 * Times of events are seconds since the cluster agent started; task times are wall clock (UTC).
 */
final class TaskRecords
{
    private static final String NONE = "-";

    private TaskRecords()
    {
    }

    static long parseTaskId(final String id)
    {
        try
        {
            final long value = Long.parseLong(id);
            return value > 0 ? value : -1;
        }
        catch (final NumberFormatException ex)
        {
            return -1;
        }
    }

    static List<Map<String, String>> taskList(final ClusterAgent cluster)
    {
        final List<Map<String, String>> records = new ArrayList<>();
        for (final TaskInfo info : cluster.tasks())
        {
            records.add(taskRecord(info, false));
        }
        return records;
    }

    static AdminResponse taskShow(final ClusterAgent cluster, final long taskId)
    {
        final TaskInfo info = cluster.taskManager().task(taskId);
        if (info == null)
        {
            return AdminResponse.error("refused: no task " + taskId + " (the journal remembers the last ones only)");
        }
        final List<Map<String, String>> records = new ArrayList<>();
        records.add(taskRecord(info, true));
        final TraceSnapshot snapshot = cluster.snapshot();
        cluster.trace().copyByTask(taskId, snapshot);
        events(cluster, snapshot, -1, records);
        return AdminResponse.ok(records);
    }

    /**
     * @param volume a volume name, or null for all.
     * @param task   a task id, or null for all.
     */
    static AdminResponse trace(final ClusterAgent cluster, final Controller controller, final String volume, final String task)
    {
        long subjectId = -1;
        if (volume != null)
        {
            final VolumeAgent agent = controller.agentByName(volume);
            if (agent != null)
            {
                subjectId = agent.state().volumeId();
            }
            else
            {
                for (final Map.Entry<Long, String> entry : cluster.subjectNames().entrySet())
                {
                    if (entry.getValue().equals(volume) && entry.getKey() != 0)
                    {
                        subjectId = entry.getKey();
                    }
                }
            }
            if (subjectId < 0)
            {
                return AdminResponse.error("refused: no volume " + volume + " (nor a remembered task about it)");
            }
        }
        final TraceSnapshot snapshot = cluster.snapshot();
        if (task != null)
        {
            final long taskId = parseTaskId(task);
            if (taskId < 0)
            {
                return AdminResponse.error("refused: task id " + task + " is not a number");
            }
            cluster.trace().copyByTask(taskId, snapshot);
        }
        else if (subjectId >= 0)
        {
            cluster.trace().copyBySubject(subjectId, snapshot);
        }
        else
        {
            cluster.trace().copyAll(snapshot);
        }
        final List<Map<String, String>> records = new ArrayList<>();
        events(cluster, snapshot, subjectId, records);
        return AdminResponse.ok(records);
    }

    private static Map<String, String> taskRecord(final TaskInfo info, final boolean details)
    {
        final String volume = VolumeTasks.describedName(info.args());
        final List<String> fields = new ArrayList<>(List.of(
            "id", Long.toString(info.taskId()),
            "type", info.typeName(),
            "state", info.state().name(),
            "step", info.isFinished() ? (info.state().name().equals("COMPLETED") ? info.stepCount() + "/" + info.stepCount() : NONE) :
                (info.rollingBack() ? "undo " : "") + (info.step() + 1) + "/" + info.stepCount(),
            "volume", volume == null ? NONE : volume,
            "started", time(info.startedMs()),
            "ended", time(info.finishedMs()),
            "recovered", info.recoveryCount() == 0 ? NONE : info.recoveryCount() + "x " + info.lastRecovery(),
            "outcome", info.message().isEmpty() ? (info.isFinished() ? "ok" : NONE) : info.message()));
        if (details)
        {
            fields.addAll(List.of(
                "args", info.args(),
                "keys", String.join(",", info.conflictKeys()),
                "waitingFor", info.waitParameter() == null ? NONE : info.waitParameter(),
                "corr", Long.toString(info.correlationId())));
        }
        return AdminResponse.record("task", fields.toArray(new String[0]));
    }

    private static String time(final long epochMs)
    {
        return epochMs <= 0 ? NONE : Instant.ofEpochMilli(epochMs).toString();
    }

    private static void events(
        final ClusterAgent cluster, final TraceSnapshot snapshot, final long subjectId, final List<Map<String, String>> records)
    {
        final TraceFormatter formatter = new TraceFormatter(cluster.types(), cluster.runner(), cluster.parameters());
        final Map<Long, String> names = cluster.subjectNames();
        final StringBuilder line = new StringBuilder();
        for (int i = 0; i < snapshot.count(); i++)
        {
            if (subjectId >= 0 && snapshot.subjectId(i) != subjectId)
            {
                continue;
            }
            line.setLength(0);
            formatter.format(snapshot, i, cluster.originNs(), line);
            records.add(event(line.toString(), snapshot.taskId(i), names.getOrDefault(snapshot.subjectId(i), NONE)));
        }
    }

    /** Splits a {@link TraceFormatter} line into fields: time, then who (task, type or machine), then what. */
    static Map<String, String> event(final String line, final long taskId, final String volume)
    {
        final String[] tokens = line.split(" ");
        int i = 1;
        String source = NONE;
        if (tokens.length > i && tokens[i].startsWith("task="))
        {
            i++;
            while (i < tokens.length && (tokens[i].startsWith("corr=") || tokens[i].startsWith("subj=")))
            {
                i++;
            }
            source = i < tokens.length ? tokens[i++] : NONE;
        }
        else if (tokens.length > i && tokens[i].startsWith("machine="))
        {
            source = tokens[i++].substring("machine=".length());
            while (i < tokens.length && (tokens[i].startsWith("corr=") || tokens[i].startsWith("subj=")))
            {
                i++;
            }
        }
        final String what = i < tokens.length ? tokens[i++] : NONE;
        final String detail = i < tokens.length ? String.join(" ", List.of(tokens).subList(i, tokens.length)) : NONE;
        return AdminResponse.record("event",
            "time", tokens[0],
            "task", taskId == 0 ? NONE : Long.toString(taskId),
            "volume", volume,
            "source", source,
            "event", what,
            "detail", detail);
    }
}
