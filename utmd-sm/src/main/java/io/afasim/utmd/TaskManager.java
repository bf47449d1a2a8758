package io.afasim.utmd;

import org.agrona.ErrorHandler;
import org.agrona.concurrent.EpochClock;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Runs tasks as sequences of journalled steps (the controller's "utmd"). Owned by one agent (the
 * controller's cluster agent), which calls {@link #recover(long)} once at start, then
 * {@link #submit(TaskType, byte[], long, long, SubmitResult)} for commands and {@link #doWork(long)} on every
 * duty cycle. Not thread safe.
 * <p>
 * Per step (forward): journal STEP_BEGIN, apply, journal STEP_DONE; the last STEP_DONE is followed by
 * COMPLETED. A step returning {@link StepOutcome#WAIT_PRECONDITION} parks the task in WAITING (journal
 * WAITING with the parameter id) until that parameter changes; then the step is run again (the seed's
 * RedoTaskSm). A step returning {@link StepOutcome#FAILED} (or throwing) rolls the task back if any step up to
 * it has an undo (journal ROLLING_BACK, then UNDO_DONE per undone step, then ROLLED_BACK), else ends it
 * FAILED. Every record is forced to the boot drive before the manager goes on.
 * <p>
 * Gating: an unfinished task (RUNNING, WAITING, ROLLING_BACK) holds its conflict keys; a submit sharing a key
 * with one is refused with a message naming it. The key {@link #CLUSTER_KEY} conflicts with every key.
 * <p>
 * Every decision is traced: gate decisions, state changes, step begin / done / failed, undo, wait, retrigger,
 * recovery. At most {@link UtmdLimits#TASK_ACTIONS_PER_DO_WORK_MAX} actions run per {@code doWork}, round
 * robin over unfinished tasks in id order.
 */
public final class TaskManager implements ParameterListener
{
    /** Conflict key of cluster-wide tasks (failover, failback): conflicts with every other key. */
    public static final String CLUSTER_KEY = "cluster";

    private final TaskJournal journal;
    private final TaskTypeRegistry types;
    private final ParameterSet parameters;
    private final EventTrace trace;
    private final EpochClock epochClock;
    private final ErrorHandler errorHandler;
    private final BoundaryHook hook;
    private final long compactThresholdBytes;
    private final TaskContext context;
    private final JournalRecord record = new JournalRecord();
    private final Task[] active = new Task[UtmdLimits.TASKS_ACTIVE_MAX];
    private final Task[] history = new Task[UtmdLimits.TASK_HISTORY_MAX];
    private int activeCount;
    private int historyStart;
    private int historyCount;
    private long nextTaskId = 1;
    private boolean recovered;
    private long errorCount;
    private long compactionCount;

    public TaskManager(final Context ctx)
    {
        ctx.conclude();
        this.journal = ctx.journal;
        this.types = ctx.types;
        this.parameters = ctx.parameters;
        this.trace = ctx.trace;
        this.epochClock = ctx.epochClock;
        this.errorHandler = ctx.errorHandler;
        this.hook = ctx.hook;
        this.compactThresholdBytes = ctx.compactThresholdBytes;
        this.context = new TaskContext(parameters);
        parameters.addListener(this);
    }

    // ------------------------------------------------------------------------------------------------------
    // Recovery
    // ------------------------------------------------------------------------------------------------------

    /**
     * Read the journal and decide, for every task found unfinished, to redo it or roll it back by its
     * type's {@link RecoveryPolicy} (a task already rolling back goes on rolling back; a task whose last step
     * is done completes). The decision is journalled (RECOVERED) and traced (TASK_RECOVERED); the work itself
     * then runs in {@link #doWork(long)}. Call once, before anything else.
     *
     * @return the number of unfinished tasks found.
     */
    public int recover(final long nowNs)
    {
        Verify.invariant(!recovered, "recover called twice");
        if (journal.ignoredTailBytes() > 0)
        {
            trace.record(nowNs, TraceKind.JOURNAL_TORN_TAIL, 0, 0, 0, -1, 0, 0, -1,
                (int)Math.min(Integer.MAX_VALUE, journal.ignoredTailBytes()));
        }
        final TreeMap<Long, Task> unfinished = new TreeMap<>();
        nextTaskId = Math.max(1, journal.taskIdBase());
        journal.replay(r -> replayRecord(r, unfinished));

        for (final Task task : unfinished.values())
        {
            Verify.invariant(activeCount < active.length, "journal holds more unfinished tasks than the limit");
            active[activeCount++] = task;
        }
        recovered = true;
        for (int i = 0; i < activeCount; i++)
        {
            decideRecovery(active[i], nowNs);
        }
        final int found = unfinished.size();
        removeFinishedActive();
        return found;
    }

    private void replayRecord(final JournalRecord r, final TreeMap<Long, Task> unfinished)
    {
        nextTaskId = Math.max(nextTaskId, r.taskId + 1);
        if (r.phase == TaskPhase.STARTED)
        {
            Verify.invariant(!unfinished.containsKey(r.taskId), "journal: task " + r.taskId + " started twice");
            final Task task = newTask(r.taskId, r.typeId, r.correlationId, r.args);
            task.startedMs = r.timestampMs;
            unfinished.put(r.taskId, task);
            return;
        }

        final Task task = unfinished.get(r.taskId);
        if (null == task)
        {
            Verify.invariant(isFinal(r.phase), "journal: " + r + " for a task never started");
            // A compacted final record: the task is history only.
            final Task done = newTask(r.taskId, r.typeId, r.correlationId, r.args);
            applyFinal(done, r);
            addHistory(done);
            return;
        }

        switch (r.phase)
        {
            case STEP_BEGIN:
                Verify.invariant(!task.rollingBack && r.step == task.nextStep, "journal: " + r + " out of order");
                task.begun = true;
                task.attempt = r.aux;
                task.state = TaskState.RUNNING;
                task.waitParameterId = -1;
                break;
            case STEP_DONE:
                Verify.invariant(task.begun && r.step == task.nextStep, "journal: " + r + " out of order");
                task.begun = false;
                task.nextStep++;
                task.attempt = 1;
                break;
            case WAITING:
                task.state = TaskState.WAITING;
                task.waitParameterId = r.aux;
                break;
            case ROLLING_BACK:
                task.rollingBack = true;
                task.undoNext = r.step;
                task.state = TaskState.ROLLING_BACK;
                task.waitParameterId = -1;
                task.message = r.text;
                break;
            case UNDO_DONE:
                Verify.invariant(task.rollingBack && r.step <= task.undoNext, "journal: " + r + " out of order");
                task.undoNext = r.step - 1;
                task.state = TaskState.ROLLING_BACK;
                task.waitParameterId = -1;
                break;
            case RECOVERED:
                task.recoveryCount++;
                task.lastRecovery = RecoveryAction.fromCode(r.aux);
                break;
            default:
                Verify.invariant(isFinal(r.phase), "journal: unexpected " + r);
                applyFinal(task, r);
                unfinished.remove(r.taskId);
                addHistory(task);
                break;
        }
    }

    private static boolean isFinal(final TaskPhase phase)
    {
        return phase == TaskPhase.COMPLETED || phase == TaskPhase.ROLLED_BACK || phase == TaskPhase.FAILED;
    }

    private static void applyFinal(final Task task, final JournalRecord r)
    {
        task.state = r.phase == TaskPhase.COMPLETED ? TaskState.COMPLETED :
            r.phase == TaskPhase.ROLLED_BACK ? TaskState.ROLLED_BACK : TaskState.FAILED;
        task.finishedMs = r.timestampMs;
        task.waitParameterId = -1;
        task.begun = false;
        if (task.state == TaskState.COMPLETED)
        {
            task.nextStep = task.stepCount();
        }
        if (!r.text.isEmpty())
        {
            task.message = r.text;
        }
    }

    private Task newTask(final long taskId, final int typeId, final long correlationId, final byte[] args)
    {
        final TaskType type = types.get(typeId);
        final String[] keys = null == type ? new String[0] : type.conflictKeys(args);
        final long subject = null == type ? 0 : type.subjectId(args);
        return new Task(taskId, typeId, type, correlationId, args, keys, subject);
    }

    private void decideRecovery(final Task task, final long nowNs)
    {
        final TaskState before = task.state;
        final RecoveryAction action;
        final String text;
        if (null == task.type)
        {
            action = RecoveryAction.FAIL_UNKNOWN_TYPE;
            text = "recovered after restart: unknown task type " + task.typeId + ", cannot redo or roll back";
        }
        else if (task.rollingBack)
        {
            action = RecoveryAction.CONTINUE_ROLL_BACK;
            text = "recovered after restart: continue roll back at step " + (task.undoNext + 1) + "/" + task.stepCount();
        }
        else if (task.nextStep == task.stepCount())
        {
            action = RecoveryAction.COMPLETE;
            text = "recovered after restart: all steps done, complete";
        }
        else if (task.type.recoveryPolicy() == RecoveryPolicy.REDO_FORWARD)
        {
            action = RecoveryAction.REDO;
            text = "recovered after restart: redo from step " + (task.nextStep + 1) + "/" + task.stepCount() +
                (task.begun ? " (begun, not done)" : "");
        }
        else
        {
            action = RecoveryAction.ROLL_BACK;
            text = "recovered after restart: roll back from step " + (task.nextStep + (task.begun ? 1 : 0)) + "/" +
                task.stepCount();
        }

        task.recoveryCount++;
        task.lastRecovery = action;
        task.message = text;
        append(TaskPhase.RECOVERED, task, task.currentStep(), action.code(), null, text);
        trace.record(nowNs, TraceKind.TASK_RECOVERED, task.correlationId, task.taskId, task.subjectId, task.typeId,
            before.code(), before.code(), task.currentStep(), action.code());
        hook.onBoundary(Boundary.AFTER_RECOVERED_RECORD, task.taskId, task.currentStep());

        task.waitParameterId = -1;
        task.retriggered = false;
        switch (action)
        {
            case FAIL_UNKNOWN_TYPE:
                finish(task, TaskState.FAILED, TaskPhase.FAILED, task.currentStep(), text, nowNs);
                break;
            case CONTINUE_ROLL_BACK:
                setState(task, TaskState.ROLLING_BACK, nowNs);
                break;
            case ROLL_BACK:
                startRollBack(task, task.begun ? task.nextStep : task.nextStep - 1, text, nowNs);
                break;
            default:
                if (task.begun)
                {
                    task.attempt++;
                }
                setState(task, TaskState.RUNNING, nowNs);
                break;
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Submit and gating
    // ------------------------------------------------------------------------------------------------------

    /**
     * Gate and start a task. On acceptance the STARTED record is in the journal before this returns; the
     * steps run in {@link #doWork(long)}.
     *
     * @param type          a registered task type.
     * @param args          arguments, at most {@link UtmdLimits#TASK_ARGS_BYTES_MAX} bytes; copied.
     * @param correlationId the command's correlation id (0: use the task id).
     * @param nowNs         time, for the trace.
     * @param result        filled with the answer and returned.
     */
    public SubmitResult submit(
        final TaskType type, final byte[] args, final long correlationId, final long nowNs, final SubmitResult result)
    {
        Objects.requireNonNull(result, "result");
        if (!recovered)
        {
            return result.set(SubmitStatus.REFUSED_NOT_RECOVERED, 0, 0, "refused: task manager not recovered yet");
        }
        if (null == type || types.get(type.typeId()) != type)
        {
            return result.set(SubmitStatus.REFUSED_BAD_REQUEST, 0, 0, "refused: unknown task type " + type);
        }
        if (null == args || args.length > UtmdLimits.TASK_ARGS_BYTES_MAX)
        {
            return result.set(SubmitStatus.REFUSED_BAD_REQUEST, 0, 0, "refused: " + type.name() + " arguments are " +
                (null == args ? "missing" : args.length + " bytes, more than " + UtmdLimits.TASK_ARGS_BYTES_MAX));
        }
        final byte[] argsCopy = Arrays.copyOf(args, args.length);
        final String[] keys;
        final long subjectId;
        try
        {
            keys = type.conflictKeys(argsCopy);
            subjectId = type.subjectId(argsCopy);
        }
        catch (final RuntimeException ex)
        {
            return result.set(SubmitStatus.REFUSED_BAD_REQUEST, 0, 0, "refused: " + type.name() + " bad arguments: " +
                ex.getMessage());
        }

        for (int i = 0; i < activeCount; i++)
        {
            final Task running = active[i];
            final String key = conflictingKey(keys, running.conflictKeys);
            if (null != key)
            {
                trace.record(nowNs, TraceKind.GATE_REFUSED, correlationId, running.taskId, subjectId, type.typeId(),
                    running.state.code(), running.state.code(), running.currentStep(),
                    SubmitStatus.REFUSED_CONFLICT.code());
                return result.set(SubmitStatus.REFUSED_CONFLICT, 0, running.taskId,
                    "refused: " + renderKey(key) + " is busy with task " + running.taskId + " (" + describeProgress(running) + ")");
            }
        }
        if (activeCount == active.length)
        {
            trace.record(nowNs, TraceKind.GATE_REFUSED, correlationId, 0, subjectId, type.typeId(), 0, 0, -1,
                SubmitStatus.REFUSED_TASKS_FULL.code());
            return result.set(SubmitStatus.REFUSED_TASKS_FULL, 0, 0,
                "refused: " + activeCount + " tasks unfinished, the limit; retry later");
        }

        final long taskId = nextTaskId++;
        final Task task = new Task(taskId, type.typeId(), type, 0 == correlationId ? taskId : correlationId,
            argsCopy, keys, subjectId);
        task.startedMs = epochClock.time();
        append(TaskPhase.STARTED, task, -1, 0, argsCopy, null);
        active[activeCount++] = task;
        trace.record(nowNs, TraceKind.GATE_ACCEPTED, task.correlationId, taskId, subjectId, type.typeId(), 0, 0, -1,
            SubmitStatus.ACCEPTED.code());
        trace.record(nowNs, TraceKind.TASK_STATE, task.correlationId, taskId, subjectId, type.typeId(), 0,
            TaskState.RUNNING.code(), 0, 0);
        hook.onBoundary(Boundary.AFTER_STARTED_RECORD, taskId, -1);
        return result.set(SubmitStatus.ACCEPTED, taskId, 0, "accepted: task " + taskId + " (" + type.name() + ")");
    }

    private static String conflictingKey(final String[] keys, final String[] runningKeys)
    {
        for (final String key : keys)
        {
            for (final String runningKey : runningKeys)
            {
                if (key.equals(runningKey) || CLUSTER_KEY.equals(runningKey) || CLUSTER_KEY.equals(key))
                {
                    return key;
                }
            }
        }
        return null;
    }

    private static String renderKey(final String key)
    {
        final int colon = key.indexOf(':');
        return colon < 0 ? key : key.substring(0, colon) + " " + key.substring(colon + 1);
    }

    private String describeProgress(final Task task)
    {
        final String position = (task.currentStep() + 1) + "/" + task.stepCount();
        switch (task.state)
        {
            case WAITING:
                final Parameter waitingOn = parameters.parameter(task.waitParameterId);
                return task.typeName() + ", " + (task.rollingBack ? "rolling back, " : "") + "waiting at step " +
                    position + " for " + (null == waitingOn ? "#" + task.waitParameterId : waitingOn.name());
            case ROLLING_BACK:
                return task.typeName() + ", rolling back, step " + position;
            default:
                return task.typeName() + ", step " + position;
        }
    }

    public void onParameterChanged(final int parameterId)
    {
        for (int i = 0; i < activeCount; i++)
        {
            final Task task = active[i];
            if (task.state == TaskState.WAITING && task.waitParameterId == parameterId)
            {
                task.retriggered = true;
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Duty cycle
    // ------------------------------------------------------------------------------------------------------

    /**
     * Re-trigger waiting tasks whose parameter changed, then run up to
     * {@link UtmdLimits#TASK_ACTIONS_PER_DO_WORK_MAX} step actions, round robin in task id order; compact the
     * journal when no task is unfinished and it has grown past the threshold.
     *
     * @return actions run (work count for an idle strategy).
     */
    public int doWork(final long nowNs)
    {
        Verify.invariant(recovered, "doWork before recover");
        for (int i = 0; i < activeCount; i++)
        {
            final Task task = active[i];
            if (task.state == TaskState.WAITING && task.retriggered)
            {
                task.retriggered = false;
                trace.record(nowNs, TraceKind.TASK_RETRIGGER, task.correlationId, task.taskId, task.subjectId,
                    task.typeId, task.state.code(), task.state.code(), task.currentStep(), task.waitParameterId);
                task.waitParameterId = -1;
                if (!task.rollingBack)
                {
                    task.attempt++;
                }
                setState(task, task.rollingBack ? TaskState.ROLLING_BACK : TaskState.RUNNING, nowNs);
            }
        }

        int actions = 0;
        boolean progressed = true;
        while (progressed && actions < UtmdLimits.TASK_ACTIONS_PER_DO_WORK_MAX)
        {
            progressed = false;
            for (int i = 0; i < activeCount && actions < UtmdLimits.TASK_ACTIONS_PER_DO_WORK_MAX; i++)
            {
                final Task task = active[i];
                if (task.state == TaskState.RUNNING)
                {
                    stepForward(task, nowNs);
                }
                else if (task.state == TaskState.ROLLING_BACK)
                {
                    stepBack(task, nowNs);
                }
                else
                {
                    continue;
                }
                actions++;
                progressed = true;
            }
            removeFinishedActive();
        }

        if (0 == activeCount && journal.appendCount() > 0 && journal.lengthBytes() > compactThresholdBytes)
        {
            compact(nowNs);
        }
        return actions;
    }

    private void stepForward(final Task task, final long nowNs)
    {
        final int stepCount = task.stepCount();
        final int k = task.nextStep;
        if (k == stepCount)
        {
            finish(task, TaskState.COMPLETED, TaskPhase.COMPLETED, k, null, nowNs);
            return;
        }
        final TaskStep step = task.type.step(k);
        hook.onBoundary(Boundary.BEFORE_STEP_BEGIN_RECORD, task.taskId, k);
        append(TaskPhase.STEP_BEGIN, task, k, task.attempt, null, null);
        task.begun = true;
        trace.record(nowNs, TraceKind.TASK_STEP_BEGIN, task.correlationId, task.taskId, task.subjectId, task.typeId,
            task.state.code(), task.state.code(), k, task.attempt);
        hook.onBoundary(Boundary.AFTER_STEP_BEGIN_RECORD, task.taskId, k);

        context.reset(task, k, false, nowNs);
        final StepOutcome outcome = run(step, task, k, false, nowNs);
        hook.onBoundary(Boundary.AFTER_APPLY, task.taskId, k);

        switch (outcome)
        {
            case DONE:
                append(TaskPhase.STEP_DONE, task, k, 0, null, null);
                task.begun = false;
                task.nextStep = k + 1;
                task.attempt = 1;
                trace.record(nowNs, TraceKind.TASK_STEP_DONE, task.correlationId, task.taskId, task.subjectId,
                    task.typeId, task.state.code(), task.state.code(), k, 0);
                hook.onBoundary(Boundary.AFTER_STEP_DONE_RECORD, task.taskId, k);
                if (task.nextStep == stepCount)
                {
                    finish(task, TaskState.COMPLETED, TaskPhase.COMPLETED, task.nextStep, null, nowNs);
                }
                break;
            case WAIT_PRECONDITION:
                park(task, k, nowNs);
                break;
            default:
                trace.record(nowNs, TraceKind.TASK_STEP_FAILED, task.correlationId, task.taskId, task.subjectId,
                    task.typeId, task.state.code(), task.state.code(), k, 0);
                final String reason = "step " + (k + 1) + "/" + stepCount + " (" + step.name() + ") failed" +
                    (null == context.failureReason() ? "" : ": " + context.failureReason());
                if (task.type.anyUndo(k))
                {
                    startRollBack(task, k, reason, nowNs);
                }
                else
                {
                    finish(task, TaskState.FAILED, TaskPhase.FAILED, k, reason, nowNs);
                }
                break;
        }
    }

    private void stepBack(final Task task, final long nowNs)
    {
        final int k = task.undoNext;
        if (k < 0)
        {
            finish(task, TaskState.ROLLED_BACK, TaskPhase.ROLLED_BACK, -1, null, nowNs);
            return;
        }
        final TaskStep step = task.type.step(k);
        if (!step.hasUndo())
        {
            task.undoNext = k - 1;
            return;
        }
        hook.onBoundary(Boundary.BEFORE_UNDO, task.taskId, k);
        trace.record(nowNs, TraceKind.TASK_UNDO_BEGIN, task.correlationId, task.taskId, task.subjectId, task.typeId,
            task.state.code(), task.state.code(), k, 0);
        context.reset(task, k, true, nowNs);
        final StepOutcome outcome = run(step, task, k, true, nowNs);
        hook.onBoundary(Boundary.AFTER_UNDO, task.taskId, k);
        switch (outcome)
        {
            case DONE:
                append(TaskPhase.UNDO_DONE, task, k, 0, null, null);
                task.undoNext = k - 1;
                trace.record(nowNs, TraceKind.TASK_UNDO_DONE, task.correlationId, task.taskId, task.subjectId,
                    task.typeId, task.state.code(), task.state.code(), k, 0);
                hook.onBoundary(Boundary.AFTER_UNDO_DONE_RECORD, task.taskId, k);
                break;
            case WAIT_PRECONDITION:
                park(task, k, nowNs);
                break;
            default:
                finish(task, TaskState.FAILED, TaskPhase.FAILED, k, "undo of step " + (k + 1) + "/" + task.stepCount() +
                    " (" + step.name() + ") failed" +
                    (null == context.failureReason() ? "" : ": " + context.failureReason()) +
                    "; task left partly rolled back", nowNs);
                break;
        }
    }

    private StepOutcome run(final TaskStep step, final Task task, final int k, final boolean undo, final long nowNs)
    {
        try
        {
            final StepOutcome outcome = undo ? step.undo(context) : step.apply(context);
            Verify.invariant(null != outcome, task.typeName() + " step " + step.name() + " returned null");
            return outcome;
        }
        catch (final RuntimeException ex)
        {
            errorCount++;
            trace.record(nowNs, TraceKind.TASK_ERROR, task.correlationId, task.taskId, task.subjectId, task.typeId,
                task.state.code(), task.state.code(), k, 0);
            context.failureReason(ex.toString());
            errorHandler.onError(ex);
            return StepOutcome.FAILED;
        }
    }

    private void park(final Task task, final int k, final long nowNs)
    {
        final int parameterId = context.waitParameterId();
        if (parameterId < 0 || null == parameters.parameter(parameterId))
        {
            throw new AssertionError(task.typeName() + " step " + task.type.step(k).name() +
                " returned WAIT_PRECONDITION without waitFor(parameter)");
        }
        append(TaskPhase.WAITING, task, k, parameterId, null, null);
        task.waitParameterId = parameterId;
        task.retriggered = false;
        trace.record(nowNs, TraceKind.TASK_WAIT, task.correlationId, task.taskId, task.subjectId, task.typeId,
            task.state.code(), task.state.code(), k, parameterId);
        setState(task, TaskState.WAITING, nowNs);
        hook.onBoundary(Boundary.AFTER_WAITING_RECORD, task.taskId, k);
    }

    private void startRollBack(final Task task, final int highestStep, final String reason, final long nowNs)
    {
        task.rollingBack = true;
        task.undoNext = highestStep;
        task.begun = false;
        task.message = reason;
        append(TaskPhase.ROLLING_BACK, task, highestStep, 0, null, reason);
        setState(task, TaskState.ROLLING_BACK, nowNs);
        hook.onBoundary(Boundary.AFTER_ROLLING_BACK_RECORD, task.taskId, highestStep);
    }

    private void finish(
        final Task task, final TaskState state, final TaskPhase phase, final int step, final String reason, final long nowNs)
    {
        hook.onBoundary(Boundary.BEFORE_FINAL_RECORD, task.taskId, step);
        if (null != reason)
        {
            task.message = reason;
        }
        append(phase, task, step, 0, null, reason);
        task.finishedMs = epochClock.time();
        task.begun = false;
        task.waitParameterId = -1;
        setState(task, state, nowNs);
        hook.onBoundary(Boundary.AFTER_FINAL_RECORD, task.taskId, step);
    }

    private void setState(final Task task, final TaskState next, final long nowNs)
    {
        if (task.state == next)
        {
            return;
        }
        trace.record(nowNs, TraceKind.TASK_STATE, task.correlationId, task.taskId, task.subjectId, task.typeId,
            task.state.code(), next.code(), task.currentStep(), 0);
        task.state = next;
    }

    private void removeFinishedActive()
    {
        int kept = 0;
        for (int i = 0; i < activeCount; i++)
        {
            final Task task = active[i];
            if (task.isFinished())
            {
                addHistory(task);
            }
            else
            {
                active[kept++] = task;
            }
        }
        for (int i = kept; i < activeCount; i++)
        {
            active[i] = null;
        }
        activeCount = kept;
    }

    private void addHistory(final Task task)
    {
        if (historyCount == history.length)
        {
            history[historyStart] = task;
            historyStart = (historyStart + 1) % history.length;
        }
        else
        {
            history[(historyStart + historyCount) % history.length] = task;
            historyCount++;
        }
    }

    private void append(
        final TaskPhase phase, final Task task, final int step, final int aux, final byte[] args, final String text)
    {
        journal.append(record.set(phase, task.typeId, task.taskId, task.correlationId, epochClock.time(), step, aux,
            args, text));
    }

    private void compact(final long nowNs)
    {
        Verify.invariant(0 == activeCount, "compaction with unfinished tasks");
        final List<JournalRecord> keep = new ArrayList<>(historyCount);
        for (int i = 0; i < historyCount; i++)
        {
            final Task task = history[(historyStart + i) % history.length];
            final TaskPhase phase = task.state == TaskState.COMPLETED ? TaskPhase.COMPLETED :
                task.state == TaskState.ROLLED_BACK ? TaskPhase.ROLLED_BACK : TaskPhase.FAILED;
            keep.add(new JournalRecord().set(phase, task.typeId, task.taskId, task.correlationId, task.finishedMs,
                task.currentStep(), 0, task.args, task.message));
        }
        journal.compact(keep, nextTaskId, hook);
        compactionCount++;
        trace.record(nowNs, TraceKind.JOURNAL_COMPACTED, 0, 0, 0, -1, 0, 0, -1, keep.size());
    }

    // ------------------------------------------------------------------------------------------------------
    // Queries (command path: they allocate)
    // ------------------------------------------------------------------------------------------------------

    /**
     * @return the task with that id, unfinished or remembered, or null.
     */
    public TaskInfo task(final long taskId)
    {
        for (int i = 0; i < activeCount; i++)
        {
            if (active[i].taskId == taskId)
            {
                return info(active[i]);
            }
        }
        for (int i = 0; i < historyCount; i++)
        {
            final Task task = history[(historyStart + i) % history.length];
            if (task.taskId == taskId)
            {
                return info(task);
            }
        }
        return null;
    }

    /**
     * @return remembered finished tasks then unfinished ones, each group in id order.
     */
    public List<TaskInfo> tasks()
    {
        final List<TaskInfo> list = new ArrayList<>(historyCount + activeCount);
        for (int i = 0; i < historyCount; i++)
        {
            list.add(info(history[(historyStart + i) % history.length]));
        }
        list.sort((a, b) -> Long.compare(a.taskId(), b.taskId()));
        for (int i = 0; i < activeCount; i++)
        {
            list.add(info(active[i]));
        }
        return list;
    }

    private TaskInfo info(final Task task)
    {
        final Parameter waitingOn = task.state == TaskState.WAITING ? parameters.parameter(task.waitParameterId) : null;
        return new TaskInfo(task.taskId, task.typeId, task.typeName(), task.correlationId, task.subjectId, task.state,
            task.currentStep(), task.stepCount(), task.rollingBack, null == waitingOn ? null : waitingOn.name(),
            List.of(task.conflictKeys), task.recoveryCount, task.lastRecovery, task.message,
            null == task.type ? task.args.length + " bytes" : task.type.describeArgs(task.args),
            task.startedMs, task.finishedMs);
    }

    public int activeCount()
    {
        return activeCount;
    }

    public boolean isRecovered()
    {
        return recovered;
    }

    /**
     * @return unexpected exceptions thrown by steps (each also went to the error handler).
     */
    public long errorCount()
    {
        return errorCount;
    }

    public long compactionCount()
    {
        return compactionCount;
    }

    public TaskTypeRegistry types()
    {
        return types;
    }

    public TaskJournal journal()
    {
        return journal;
    }

    /**
     * Configuration of a {@link TaskManager} (Aeron {@code Context} style): set, then {@link #conclude()}
     * validates once.
     */
    public static final class Context
    {
        private TaskJournal journal;
        private TaskTypeRegistry types;
        private ParameterSet parameters;
        private EventTrace trace;
        private EpochClock epochClock;
        private ErrorHandler errorHandler;
        private BoundaryHook hook = BoundaryHook.NONE;
        private long compactThresholdBytes = UtmdLimits.JOURNAL_COMPACT_THRESHOLD_BYTES;

        public Context journal(final TaskJournal journal)
        {
            this.journal = journal;
            return this;
        }

        public Context types(final TaskTypeRegistry types)
        {
            this.types = types;
            return this;
        }

        public Context parameters(final ParameterSet parameters)
        {
            this.parameters = parameters;
            return this;
        }

        public Context trace(final EventTrace trace)
        {
            this.trace = trace;
            return this;
        }

        /**
         * Wall clock for journal timestamps (what {@code task list} shows); never used for decisions.
         */
        public Context epochClock(final EpochClock epochClock)
        {
            this.epochClock = epochClock;
            return this;
        }

        public Context errorHandler(final ErrorHandler errorHandler)
        {
            this.errorHandler = errorHandler;
            return this;
        }

        public Context boundaryHook(final BoundaryHook hook)
        {
            this.hook = hook;
            return this;
        }

        public Context compactThresholdBytes(final long compactThresholdBytes)
        {
            this.compactThresholdBytes = compactThresholdBytes;
            return this;
        }

        public void conclude()
        {
            Objects.requireNonNull(journal, "journal");
            Objects.requireNonNull(types, "types");
            Objects.requireNonNull(parameters, "parameters");
            Objects.requireNonNull(trace, "trace");
            Objects.requireNonNull(epochClock, "epochClock");
            Objects.requireNonNull(errorHandler, "errorHandler");
            Objects.requireNonNull(hook, "boundaryHook");
            Verify.argument(compactThresholdBytes >= 0, "compactThresholdBytes " + compactThresholdBytes + " < 0");
        }
    }
}
