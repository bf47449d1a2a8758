package io.afasim.controller;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;

import io.afasim.utmd.BoundaryHook;
import io.afasim.utmd.EventTrace;
import io.afasim.utmd.Parameter;
import io.afasim.utmd.ParameterSet;
import io.afasim.utmd.StateMachineRunner;
import io.afasim.utmd.StepOutcome;
import io.afasim.utmd.SubmitResult;
import io.afasim.utmd.TaskContext;
import io.afasim.utmd.TaskInfo;
import io.afasim.utmd.TaskJournal;
import io.afasim.utmd.TaskManager;
import io.afasim.utmd.TaskType;
import io.afasim.utmd.TaskTypeRegistry;
import io.afasim.utmd.TraceSnapshot;
import io.afasim.utmd.UtmdLimits;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemEpochClock;

/**
 * The controller's cluster agent: one thread that owns the utmd pieces (parameters, state machine runner,
 * event trace, task types and the {@link TaskManager} with its journal {@code <boot>/tasks.journal}) and runs
 * every configuration task. Other threads reach it only through {@link #execute(Runnable)}; the admin
 * endpoint submits tasks and queries tasks and the trace that way.
 *
 * <p>Steps never block this thread on another agent. A step that needs work done on a volume agent (a
 * quiesce) or on the journal agent (storage-core create / delete) asks for it with {@link #awaitReply} and
 * returns {@link StepOutcome#WAIT_PRECONDITION}: the task parks (journalled WAITING) on the reply slot
 * parameter {@code agent-reply.N} of its task. The other agent completes the {@link AgentReply} from its own
 * thread; each duty cycle {@link #deliverReplies(long)} polls the outstanding replies (at most one per
 * unfinished task), bumps the slot parameter of each completed one, the task manager re-triggers the task and
 * the step runs again, now finding its reply. So a long quiesce of one volume never holds up a task of another
 * volume, a {@code task list}, or a conflicting command that must be refused at once. A reply that does not
 * come within {@link #REPLY_TIMEOUT_MS} fails the step.
 *
 * <p>Failure: an exception or error escaping the task manager leaves it in an unknown state (a broken
 * invariant, or a crash injected by a test at a step boundary): the agent stops doing anything
 * ({@link #isStopped()}), answers every waiting command with a refusal, and the next start recovers the tasks
 * from the journal.
 */
final class ClusterAgent implements Agent
{
    static final int COMMAND_QUEUE_CAPACITY = 256;
    static final int COMMANDS_PER_DO_WORK_MAX = 16;
    /** One reply slot parameter per unfinished task (slot = task id modulo; sharing a slot only costs a spurious re-run). */
    static final int REPLY_SLOTS = UtmdLimits.TASKS_ACTIVE_MAX;
    /** Parameter ids [REPLY_SLOT_PARAMETER_BASE, + REPLY_SLOTS) are the reply slots. */
    static final int REPLY_SLOT_PARAMETER_BASE = 0;
    /** Longest a step waits for another agent's reply. */
    static final long REPLY_TIMEOUT_MS = Controller.ADMIN_WAIT_MS;
    /** Events one {@code trace} or {@code task show} answer carries at most. */
    static final int TRACE_EVENTS_PER_QUERY_MAX = 4096;
    static final String JOURNAL_FILE_NAME = "tasks.journal";

    private final NanoClock clock;
    private final ErrorHandler errorHandler;
    private final long stepDelayNs;
    private final EventTrace trace = new EventTrace(EventTrace.CAPACITY_DEFAULT);
    private final ParameterSet parameters = new ParameterSet(trace);
    private final StateMachineRunner runner;
    private final TaskTypeRegistry types = new TaskTypeRegistry();
    private java.util.function.LongToIntFunction duty = nowNs -> 0;
    private final TaskManager taskManager;
    private final TaskJournal journal;
    private final ManyToOneConcurrentArrayQueue<Runnable> commands =
        new ManyToOneConcurrentArrayQueue<>(COMMAND_QUEUE_CAPACITY);
    private final Parameter[] replySlots = new Parameter[REPLY_SLOTS];
    private final Long2ObjectHashMap<AgentReply> pendingReplies = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<TaskWaiter> waiters = new Long2ObjectHashMap<>();
    private final SubmitResult submitResult = new SubmitResult();
    private final TraceSnapshot snapshot = new TraceSnapshot(TRACE_EVENTS_PER_QUERY_MAX);
    private final long originNs;
    private volatile boolean recovered;
    private volatile boolean stopped;
    private volatile String stopReason = "";
    private int recoveredTaskCount;
    /** Read once per duty cycle; commands and steps of the cycle use it. */
    private long nowNs;

    ClusterAgent(
        final Path bootDir,
        final NanoClock clock,
        final ErrorHandler errorHandler,
        final BoundaryHook hook,
        final long stepDelayMs) throws IOException
    {
        this.clock = clock;
        this.errorHandler = errorHandler;
        this.stepDelayNs = TimeUnit.MILLISECONDS.toNanos(stepDelayMs);
        this.originNs = clock.nanoTime();
        this.runner = new StateMachineRunner(parameters, trace, errorHandler);
        for (int i = 0; i < REPLY_SLOTS; i++)
        {
            replySlots[i] = parameters.defineLong(REPLY_SLOT_PARAMETER_BASE + i, "agent-reply." + i, 0);
        }
        this.journal = TaskJournal.open(bootDir.resolve(JOURNAL_FILE_NAME), true);
        this.taskManager = new TaskManager(new TaskManager.Context()
            .journal(journal)
            .types(types)
            .parameters(parameters)
            .trace(trace)
            .epochClock(SystemEpochClock.INSTANCE)
            .errorHandler(errorHandler)
            .boundaryHook(hook));
    }

    /** Before start: periodic work on this thread (membership heartbeats); returns the work done. */
    void duty(final java.util.function.LongToIntFunction duty)
    {
        this.duty = duty;
    }

    /** On this agent's thread: submits a task nobody waits for (membership's mode changes); outcome in the task list. */
    void submitInternal(final Prepared prepared)
    {
        onSubmit(() -> prepared, new CompletableFuture<>());
    }

    /** Before start: the task types this agent runs (the journal may name them). */
    void register(final TaskType type)
    {
        types.register(type);
    }

    /** From any thread: runs {@code command} on this agent's thread; false when the queue is full. */
    boolean execute(final Runnable command)
    {
        return commands.offer(command);
    }

    @Override
    public void onStart()
    {
        try
        {
            nowNs = clock.nanoTime();
            recoveredTaskCount = taskManager.recover(nowNs);
        }
        catch (final Throwable ex)
        {
            stop(ex);
        }
        recovered = true;
    }

    @Override
    public int doWork()
    {
        if (stopped)
        {
            return 0;
        }
        try
        {
            nowNs = clock.nanoTime();
            int work = commands.drain(Runnable::run, COMMANDS_PER_DO_WORK_MAX);
            work += duty.applyAsInt(nowNs);
            work += deliverReplies(nowNs);
            work += runner.doWork(nowNs);
            final int taskWork = taskManager.doWork(nowNs);
            work += taskWork;
            // Tasks may have changed parameters that trigger machines: let them react in the same cycle.
            work += runner.doWork(nowNs);
            if (taskWork > 0 && !waiters.isEmpty())
            {
                completeWaiters();
            }
            return work;
        }
        catch (final Throwable ex)
        {
            stop(ex);
            return 0;
        }
    }

    private void stop(final Throwable ex)
    {
        stopped = true;
        stopReason = String.valueOf(ex.getMessage() == null ? ex : ex.getMessage());
        errorHandler.onError(ex);
        for (final TaskWaiter waiter : waiters.values())
        {
            waiter.future.complete(new TaskOutcome(false, waiter.taskId,
                "refused: task " + waiter.taskId + " outcome unknown: the cluster agent stopped (" + stopReason +
                "); the next start recovers it"));
        }
        waiters.clear();
        Runnable command;
        while ((command = commands.poll()) != null)
        {
            // dropped: their callers time out with a clear message
        }
    }

    @Override
    public void onClose()
    {
        CloseHelper.quietClose(journal);
    }

    @Override
    public String roleName()
    {
        return "cluster";
    }

    boolean isRecovered()
    {
        return recovered;
    }

    boolean isStopped()
    {
        return stopped;
    }

    String stopReason()
    {
        return stopReason;
    }

    int recoveredTaskCount()
    {
        return recoveredTaskCount;
    }

    // ---------------------------------------------------------------- agent replies (this thread)

    /**
     * For a step that needs another agent: the first run asks ({@code ask} gets the reply to complete, from any
     * thread) and returns null after naming the reply slot to wait for; the task parks. A later run, once the
     * reply is delivered, gets it (and the reply is forgotten). Every other run returns null and parks again.
     * The caller returns {@link StepOutcome#WAIT_PRECONDITION} on null.
     */
    AgentReply awaitReply(final TaskContext ctx, final Consumer<AgentReply> ask)
    {
        final long taskId = ctx.taskId();
        AgentReply reply = pendingReplies.get(taskId);
        if (reply != null && (reply.stepIndex != ctx.stepIndex() || reply.undo != ctx.isUndo()))
        {
            pendingReplies.remove(taskId); // left behind by an earlier step that failed
            reply = null;
        }
        if (reply == null)
        {
            reply = new AgentReply(ctx.stepIndex(), ctx.isUndo(), nowNs + stepDelayNs,
                nowNs + TimeUnit.MILLISECONDS.toNanos(REPLY_TIMEOUT_MS));
            pendingReplies.put(taskId, reply);
            ctx.waitFor(replySlot(taskId));
            try
            {
                ask.accept(reply);
            }
            catch (final RuntimeException ex)
            {
                reply.complete("failed: " + ex.getMessage(), null);
            }
            return null;
        }
        if (!reply.delivered)
        {
            ctx.waitFor(replySlot(taskId));
            return null;
        }
        pendingReplies.remove(taskId);
        return reply;
    }

    /** True while the step of {@code ctx} has asked another agent and not yet taken the reply. */
    boolean hasPendingReply(final TaskContext ctx)
    {
        final AgentReply reply = pendingReplies.get(ctx.taskId());
        return reply != null && reply.stepIndex == ctx.stepIndex() && reply.undo == ctx.isUndo();
    }

    private Parameter replySlot(final long taskId)
    {
        return replySlots[(int)(taskId % REPLY_SLOTS)];
    }

    private int deliverReplies(final long nowNs)
    {
        if (pendingReplies.isEmpty())
        {
            return 0;
        }
        int delivered = 0;
        for (final Long2ObjectHashMap<AgentReply>.EntryIterator it = pendingReplies.entrySet().iterator(); it.hasNext(); )
        {
            it.next();
            final AgentReply reply = it.getValue();
            if (reply.delivered)
            {
                continue;
            }
            if (!reply.done && reply.deadlineNs - nowNs < 0)
            {
                reply.complete("no answer from the agent within " + REPLY_TIMEOUT_MS + " ms", null);
            }
            if (reply.done && reply.notBeforeNs - nowNs <= 0)
            {
                reply.delivered = true;
                final Parameter slot = replySlot(it.getLongKey());
                parameters.setLong(slot, parameters.getLong(slot) + 1, nowNs);
                delivered++;
            }
        }
        return delivered;
    }

    /**
     * Something another agent does for a step: completed once, from that agent's thread, with a failure
     * (null = success) and a value.
     */
    static final class AgentReply
    {
        final int stepIndex;
        final boolean undo;
        final long notBeforeNs;
        final long deadlineNs;
        private volatile String failure;
        private volatile Object value;
        private volatile boolean done;
        private boolean delivered;

        AgentReply(final int stepIndex, final boolean undo, final long notBeforeNs, final long deadlineNs)
        {
            this.stepIndex = stepIndex;
            this.undo = undo;
            this.notBeforeNs = notBeforeNs;
            this.deadlineNs = deadlineNs;
        }

        /** Any thread, once; later calls are ignored. */
        void complete(final String failure, final Object value)
        {
            if (done)
            {
                return;
            }
            this.failure = failure;
            this.value = value;
            this.done = true;
        }

        String failure()
        {
            return failure;
        }

        Object value()
        {
            return value;
        }
    }

    // ---------------------------------------------------------------- commands (admin threads)

    /** What a command becomes: a task type and its arguments, or a refusal before any task starts. */
    record Prepared(TaskType type, byte[] args, String conflictKey, String refusal, String successMessage)
    {
    }

    /** Outcome of a command that ran (or was refused) as a task. */
    record TaskOutcome(boolean ok, long taskId, String message)
    {
    }

    private record TaskWaiter(long taskId, String successMessage, CompletableFuture<TaskOutcome> future)
    {
    }

    /**
     * From an admin thread: prepares the command on this agent ({@code prepare} runs here: it may look at the
     * volumes and allocate ids), submits it as a task and waits, at most {@code timeoutMs}, for the task to end.
     */
    TaskOutcome submitAndWait(final java.util.function.Supplier<Prepared> prepare, final long timeoutMs)
    {
        final CompletableFuture<TaskOutcome> future = new CompletableFuture<>();
        if (stopped)
        {
            return new TaskOutcome(false, 0, "refused: the cluster agent stopped (" + stopReason + "); restart the controller");
        }
        if (!execute(() -> onSubmit(prepare, future)))
        {
            return new TaskOutcome(false, 0, "refused: the cluster agent is busy, try again");
        }
        try
        {
            return future.get(timeoutMs, TimeUnit.MILLISECONDS);
        }
        catch (final java.util.concurrent.TimeoutException ex)
        {
            return new TaskOutcome(false, 0, "refused: no outcome within " + timeoutMs +
                " ms; the task goes on (see afactl task list)");
        }
        catch (final java.util.concurrent.ExecutionException ex)
        {
            return new TaskOutcome(false, 0, "failed: " + ex.getCause());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return new TaskOutcome(false, 0, "refused: interrupted");
        }
    }

    private void onSubmit(final java.util.function.Supplier<Prepared> prepare, final CompletableFuture<TaskOutcome> future)
    {
        final Prepared prepared;
        try
        {
            prepared = prepare.get();
        }
        catch (final RuntimeException ex)
        {
            future.complete(new TaskOutcome(false, 0, "refused: " + ex.getMessage()));
            return;
        }
        if (prepared.refusal() != null && !isBusy(prepared.conflictKey()))
        {
            future.complete(new TaskOutcome(false, 0, prepared.refusal()));
            return;
        }
        // a refused command on a busy volume gets the gate's answer, which names the running task
        try
        {
            taskManager.submit(prepared.type(), prepared.args(), 0, nowNs, submitResult);
        }
        catch (final Throwable ex)
        {
            future.complete(new TaskOutcome(false, 0, "refused: " + prepared.type().name() +
                " outcome unknown: the cluster agent stopped (" + ex.getMessage() + "); the next start recovers it"));
            throw ex;
        }
        if (!submitResult.isAccepted())
        {
            future.complete(new TaskOutcome(false, 0, submitResult.message()));
            return;
        }
        if (prepared.refusal() != null)
        {
            throw new IllegalStateException("task " + submitResult.taskId() + " accepted despite: " + prepared.refusal());
        }
        waiters.put(submitResult.taskId(), new TaskWaiter(submitResult.taskId(), prepared.successMessage(), future));
    }

    boolean isBusy(final String conflictKey)
    {
        if (conflictKey == null)
        {
            return false;
        }
        for (final TaskInfo info : taskManager.tasks())
        {
            if (!info.isFinished() && info.conflictKeys().contains(conflictKey))
            {
                return true;
            }
        }
        return false;
    }

    private void completeWaiters()
    {
        for (final Long2ObjectHashMap<TaskWaiter>.ValueIterator it = waiters.values().iterator(); it.hasNext(); )
        {
            final TaskWaiter waiter = it.next();
            final TaskInfo info = taskManager.task(waiter.taskId);
            if (info != null && !info.isFinished())
            {
                continue;
            }
            it.remove();
            if (info == null)
            {
                waiter.future.complete(new TaskOutcome(false, waiter.taskId, "task " + waiter.taskId + " is forgotten"));
            }
            else if (info.state() == io.afasim.utmd.TaskState.COMPLETED)
            {
                waiter.future.complete(new TaskOutcome(true, waiter.taskId,
                    waiter.successMessage + " (task " + waiter.taskId + ")"));
            }
            else
            {
                waiter.future.complete(new TaskOutcome(false, waiter.taskId, info.typeName() + " task " +
                    waiter.taskId + " " + info.state().name().toLowerCase().replace('_', ' ') +
                    (info.message().isEmpty() ? "" : ": " + info.message())));
            }
        }
    }

    /** From an admin thread: runs {@code query} here with the task manager, trace and a snapshot; bounded wait. */
    <T> T query(final Function<ClusterAgent, T> query, final long timeoutMs)
    {
        if (stopped)
        {
            throw new IllegalStateException("the cluster agent stopped (" + stopReason + "); restart the controller");
        }
        final CompletableFuture<T> future = new CompletableFuture<>();
        if (!execute(() ->
        {
            try
            {
                future.complete(query.apply(this));
            }
            catch (final RuntimeException ex)
            {
                future.completeExceptionally(ex);
            }
        }))
        {
            throw new IllegalStateException("the cluster agent is busy, try again");
        }
        try
        {
            return future.get(timeoutMs, TimeUnit.MILLISECONDS);
        }
        catch (final java.util.concurrent.ExecutionException ex)
        {
            throw new IllegalStateException(ex.getCause().getMessage(), ex.getCause());
        }
        catch (final java.util.concurrent.TimeoutException ex)
        {
            throw new IllegalStateException("no answer from the cluster agent within " + timeoutMs + " ms");
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
    }

    // ---------------------------------------------------------------- for queries (this thread)

    TaskManager taskManager()
    {
        return taskManager;
    }

    TaskTypeRegistry types()
    {
        return types;
    }

    StateMachineRunner runner()
    {
        return runner;
    }

    ParameterSet parameters()
    {
        return parameters;
    }

    EventTrace trace()
    {
        return trace;
    }

    TraceSnapshot snapshot()
    {
        return snapshot;
    }

    long originNs()
    {
        return originNs;
    }

    /** Names of the subjects (volume ids) that tasks known to the manager were about; allocates. */
    Map<Long, String> subjectNames()
    {
        final Map<Long, String> names = new HashMap<>();
        for (final TaskInfo info : taskManager.tasks())
        {
            final String name = VolumeTasks.describedName(info.args());
            if (name != null)
            {
                names.put(info.subjectId(), name);
            }
        }
        return names;
    }

    List<TaskInfo> tasks()
    {
        return new ArrayList<>(taskManager.tasks());
    }
}
