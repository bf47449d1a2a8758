package io.afasim.utmd;

/**
 * Renders trace events as human lines for {@code afactl trace}. Off the data path: it resolves names through
 * the registries it is given and appends to a caller's StringBuilder. Example lines:
 * <pre>
 *   +0.000001000s task=17 corr=42 subj=7 volume-set-mode GATE_ACCEPTED
 *   +0.000002000s task=17 corr=42 subj=7 volume-set-mode STEP_BEGIN 2/4 flush-cache attempt=1
 *   +0.000003000s machine=volume-7 subj=7 TRANSITION WB -&gt; WT
 * </pre>
 */
public final class TraceFormatter
{
    private final TaskTypeRegistry types;
    private final StateMachineRunner runner;
    private final ParameterSet parameters;

    /**
     * @param types      for task type and step names; may be null.
     * @param runner     for machine and state names; may be null.
     * @param parameters for parameter names; may be null.
     */
    public TraceFormatter(final TaskTypeRegistry types, final StateMachineRunner runner, final ParameterSet parameters)
    {
        this.types = types;
        this.runner = runner;
        this.parameters = parameters;
    }

    /**
     * Append all events of a snapshot, one per line, times relative to {@code originNs}.
     */
    public StringBuilder formatAll(final TraceSnapshot snapshot, final long originNs, final StringBuilder out)
    {
        if (snapshot.droppedCount() > 0)
        {
            out.append("(trace dropped ").append(snapshot.droppedCount()).append(" older events)\n");
        }
        for (int i = 0; i < snapshot.count(); i++)
        {
            format(snapshot, i, originNs, out).append('\n');
        }
        return out;
    }

    public StringBuilder format(final TraceSnapshot s, final int i, final long originNs, final StringBuilder out)
    {
        final long relativeNs = s.timestampNs(i) - originNs;
        out.append(relativeNs < 0 ? "-" : "+");
        final long absNs = Math.abs(relativeNs);
        out.append(absNs / 1_000_000_000L).append('.');
        final String fraction = Long.toString(absNs % 1_000_000_000L);
        for (int pad = fraction.length(); pad < 9; pad++)
        {
            out.append('0');
        }
        out.append(fraction).append("s ");

        final TraceKind kind = s.kind(i);
        if (null == kind)
        {
            return out.append("unknown event");
        }
        switch (kind)
        {
            case PARAMETER_CHANGED:
                return out.append("PARAMETER ").append(parameterName(s.detail(i))).append(' ')
                    .append(s.fromCode(i)).append(" -> ").append(s.toCode(i));
            case MACHINE_TRIGGERED:
            case MACHINE_TRANSITION:
            case MACHINE_STORM:
            case MACHINE_ERROR:
                return formatMachine(s, i, kind, out);
            case JOURNAL_TORN_TAIL:
                return out.append("JOURNAL torn tail ignored, ").append(s.detail(i)).append(" bytes");
            case JOURNAL_COMPACTED:
                return out.append("JOURNAL compacted, ").append(s.detail(i)).append(" records kept");
            default:
                return formatTask(s, i, kind, out);
        }
    }

    private StringBuilder formatMachine(final TraceSnapshot s, final int i, final TraceKind kind, final StringBuilder out)
    {
        final StateMachine<?> machine = null == runner ? null : runner.machine(s.sourceId(i));
        out.append("machine=").append(null == machine ? "#" + s.sourceId(i) : machine.name());
        appendSubject(s, i, out);
        if (s.correlationId(i) != 0)
        {
            out.append(" corr=").append(s.correlationId(i));
        }
        final String from = stateName(machine, s.fromCode(i));
        switch (kind)
        {
            case MACHINE_TRIGGERED:
                out.append(" TRIGGERED in ").append(from).append(" by ");
                final int cause = s.detail(i);
                if (cause == StateMachine.CAUSE_INITIAL)
                {
                    out.append("initial");
                }
                else if (cause == StateMachine.CAUSE_TIMER)
                {
                    out.append("timer");
                }
                else
                {
                    out.append(parameterName(cause));
                }
                return out;
            case MACHINE_TRANSITION:
                return out.append(" TRANSITION ").append(from).append(" -> ").append(stateName(machine, s.toCode(i)));
            case MACHINE_STORM:
                return out.append(" STORM in ").append(from).append(": ").append(s.detail(i))
                    .append(" triggers without going quiet; suspended");
            default:
                return out.append(" ERROR in ").append(from).append(" (see error log)");
        }
    }

    private StringBuilder formatTask(final TraceSnapshot s, final int i, final TraceKind kind, final StringBuilder out)
    {
        final TaskType type = null == types ? null : types.get(s.sourceId(i));
        out.append("task=").append(s.taskId(i)).append(" corr=").append(s.correlationId(i));
        appendSubject(s, i, out);
        out.append(' ').append(null == type ? "type#" + s.sourceId(i) : type.name()).append(' ');
        final int step = s.step(i);
        switch (kind)
        {
            case GATE_ACCEPTED:
                return out.append("GATE accepted");
            case GATE_REFUSED:
                return out.append("GATE refused: ").append(SubmitStatus.fromCode(s.detail(i)))
                    .append(s.taskId(i) != 0 ? " (blocked by this task, at step " + (step + 1) + ")" : "");
            case TASK_STATE:
                return out.append("STATE ").append(taskState(s.fromCode(i))).append(" -> ").append(taskState(s.toCode(i)));
            case TASK_STEP_BEGIN:
                return appendStep(type, step, out.append("STEP_BEGIN ")).append(" attempt=").append(s.detail(i));
            case TASK_STEP_DONE:
                return appendStep(type, step, out.append("STEP_DONE "));
            case TASK_STEP_FAILED:
                return appendStep(type, step, out.append("STEP_FAILED "));
            case TASK_UNDO_BEGIN:
                return appendStep(type, step, out.append("UNDO_BEGIN "));
            case TASK_UNDO_DONE:
                return appendStep(type, step, out.append("UNDO_DONE "));
            case TASK_WAIT:
                return appendStep(type, step, out.append("WAIT ")).append(" for ").append(parameterName(s.detail(i)));
            case TASK_RETRIGGER:
                return appendStep(type, step, out.append("RETRIGGER ")).append(" by ").append(parameterName(s.detail(i)));
            case TASK_RECOVERED:
                return appendStep(type, step, out.append("RECOVERED ")).append(' ')
                    .append(RecoveryAction.fromCode(s.detail(i)));
            case TASK_ERROR:
                return appendStep(type, step, out.append("ERROR ")).append(" (see error log)");
            default:
                return out.append(kind);
        }
    }

    private static StringBuilder appendStep(final TaskType type, final int step, final StringBuilder out)
    {
        out.append(step + 1);
        if (null != type)
        {
            out.append('/').append(type.stepCount());
            if (step >= 0 && step < type.stepCount())
            {
                out.append(' ').append(type.step(step).name());
            }
        }
        return out;
    }

    private static void appendSubject(final TraceSnapshot s, final int i, final StringBuilder out)
    {
        if (s.subjectId(i) != 0)
        {
            out.append(" subj=").append(s.subjectId(i));
        }
    }

    private static String taskState(final int code)
    {
        final TaskState state = TaskState.fromCode(code);
        return null == state ? "NEW" : state.name();
    }

    private static String stateName(final StateMachine<?> machine, final int code)
    {
        final String name = null == machine ? null : machine.stateName(code);
        return null == name ? "#" + code : name;
    }

    private String parameterName(final int id)
    {
        final Parameter parameter = null == parameters ? null : parameters.parameter(id);
        return null == parameter ? "parameter#" + id : parameter.name();
    }
}
