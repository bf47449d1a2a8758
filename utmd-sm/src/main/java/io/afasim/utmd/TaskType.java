package io.afasim.utmd;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * A kind of task: a stable type id, a name, a {@link RecoveryPolicy} and an ordered list of steps, plus
 * functions of the task's arguments that give its conflict keys (for command gating) and its subject id
 * (for trace filtering). Both are derived from the arguments, so recovery re-derives them from the journal.
 * <pre>
 * TaskType setMode = TaskType.builder(3, "volume-set-mode", RecoveryPolicy.REDO_FORWARD)
 *     .conflictKeys(args -&gt; new String[] {"volume:" + volumeName(args)})
 *     .subjectId(args -&gt; volumeId(args))
 *     .step("quiesce", ctx -&gt; ..., ctx -&gt; ...)
 *     .step("flush-cache", ctx -&gt; ...)
 *     .build();
 * </pre>
 */
public final class TaskType
{
    private final int typeId;
    private final String name;
    private final RecoveryPolicy recoveryPolicy;
    private final TaskStep[] steps;
    private final Function<byte[], String[]> conflictKeys;
    private final ToLongFunction<byte[]> subjectId;
    private final Function<byte[], String> describeArgs;

    private TaskType(final Builder builder)
    {
        this.typeId = builder.typeId;
        this.name = builder.name;
        this.recoveryPolicy = builder.recoveryPolicy;
        this.steps = builder.steps.toArray(new TaskStep[0]);
        this.conflictKeys = builder.conflictKeys;
        this.subjectId = builder.subjectId;
        this.describeArgs = builder.describeArgs;
    }

    public static Builder builder(final int typeId, final String name, final RecoveryPolicy recoveryPolicy)
    {
        return new Builder(typeId, name, recoveryPolicy);
    }

    public int typeId()
    {
        return typeId;
    }

    public String name()
    {
        return name;
    }

    public RecoveryPolicy recoveryPolicy()
    {
        return recoveryPolicy;
    }

    public int stepCount()
    {
        return steps.length;
    }

    public TaskStep step(final int index)
    {
        return steps[index];
    }

    /**
     * @return the conflict keys of a task with these arguments, e.g. {"volume:vol1"} or {"cluster"}.
     */
    public String[] conflictKeys(final byte[] args)
    {
        final String[] keys = conflictKeys.apply(args);
        Verify.argument(keys != null && keys.length <= UtmdLimits.CONFLICT_KEYS_PER_TASK_MAX,
            name + ": conflict keys null or more than " + UtmdLimits.CONFLICT_KEYS_PER_TASK_MAX);
        return keys;
    }

    public long subjectId(final byte[] args)
    {
        return subjectId.applyAsLong(args);
    }

    public String describeArgs(final byte[] args)
    {
        return describeArgs.apply(args);
    }

    /**
     * @return true if any of steps [0, throughStep] has an undo.
     */
    boolean anyUndo(final int throughStep)
    {
        for (int i = 0; i <= throughStep && i < steps.length; i++)
        {
            if (steps[i].hasUndo())
            {
                return true;
            }
        }
        return false;
    }

    public String toString()
    {
        return name + "#" + typeId;
    }

    public static final class Builder
    {
        private final int typeId;
        private final String name;
        private final RecoveryPolicy recoveryPolicy;
        private final List<TaskStep> steps = new ArrayList<>();
        private Function<byte[], String[]> conflictKeys = args -> new String[0];
        private ToLongFunction<byte[]> subjectId = args -> 0;
        private Function<byte[], String> describeArgs = args -> args.length + " bytes";

        private Builder(final int typeId, final String name, final RecoveryPolicy recoveryPolicy)
        {
            Verify.argument(typeId > 0 && typeId < UtmdLimits.TASK_TYPES_MAX,
                "task type id " + typeId + " outside [1, " + UtmdLimits.TASK_TYPES_MAX + ")");
            this.typeId = typeId;
            this.name = Objects.requireNonNull(name, "name");
            this.recoveryPolicy = Objects.requireNonNull(recoveryPolicy, "recoveryPolicy");
        }

        public Builder conflictKeys(final Function<byte[], String[]> conflictKeys)
        {
            this.conflictKeys = Objects.requireNonNull(conflictKeys, "conflictKeys");
            return this;
        }

        public Builder subjectId(final ToLongFunction<byte[]> subjectId)
        {
            this.subjectId = Objects.requireNonNull(subjectId, "subjectId");
            return this;
        }

        public Builder describeArgs(final Function<byte[], String> describeArgs)
        {
            this.describeArgs = Objects.requireNonNull(describeArgs, "describeArgs");
            return this;
        }

        public Builder step(final String stepName, final StepAction apply)
        {
            return step(stepName, apply, null);
        }

        public Builder step(final String stepName, final StepAction apply, final StepAction undo)
        {
            Verify.argument(steps.size() < UtmdLimits.TASK_STEPS_MAX,
                name + ": more than " + UtmdLimits.TASK_STEPS_MAX + " steps");
            steps.add(new TaskStep(stepName, apply, undo));
            return this;
        }

        public TaskType build()
        {
            Verify.argument(!steps.isEmpty(), name + ": no steps");
            if (recoveryPolicy == RecoveryPolicy.ROLL_BACK)
            {
                Verify.argument(steps.stream().anyMatch(TaskStep::hasUndo), name + ": ROLL_BACK policy but no step has an undo");
            }
            return new TaskType(this);
        }
    }
}
