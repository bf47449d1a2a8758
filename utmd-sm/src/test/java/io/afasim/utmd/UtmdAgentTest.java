package io.afasim.utmd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pieces together, as a controller's cluster agent would run them: a write-mode task changes a
 * parameter, the volume's state machine reacts in the same duty cycle, and the trace of the volume shows
 * the whole flow in order.
 */
class UtmdAgentTest
{
    @TempDir
    Path dir;

    enum WriteMode implements StateCode
    {
        WB(1), WT(2);

        private final int code;

        WriteMode(final int code)
        {
            this.code = code;
        }

        public int code()
        {
            return code;
        }
    }

    enum CacheState implements StateCode
    {
        WRITE_BACK(1), WRITE_THROUGH(2);

        private final int code;

        CacheState(final int code)
        {
            this.code = code;
        }

        public int code()
        {
            return code;
        }
    }

    @Test
    void writeModeTaskDrivesVolumeMachineAndTraceShowsTheFlow() throws Exception
    {
        final ManualClock clock = new ManualClock(0);
        final EventTrace trace = new EventTrace(1024);
        final ParameterSet parameters = new ParameterSet(trace);
        final List<Throwable> errors = new ArrayList<>();
        final EnumParameter<WriteMode> mode = parameters.defineEnum(10, "volume.7.writeMode", WriteMode.class, WriteMode.WB);
        final StateMachineRunner runner = new StateMachineRunner(parameters, trace, errors::add);
        runner.register(new StateMachine<CacheState>(7, "volume-7-cache", 7, CacheState.WRITE_BACK)
        {
            {
                subscribe(mode);
            }

            protected void onTrigger(final long nowNs, final int cause)
            {
                transitionTo(readEnum(mode) == WriteMode.WT ? CacheState.WRITE_THROUGH : CacheState.WRITE_BACK, nowNs);
            }
        });

        final TaskType setMode = TaskType.builder(2, "volume-set-mode", RecoveryPolicy.REDO_FORWARD)
            .conflictKeys(args -> new String[] {"volume:vol7"})
            .subjectId(args -> 7)
            .step("quiesce", ctx -> StepOutcome.DONE)
            .step("write-mode", ctx ->
            {
                ctx.parameters().setEnum(mode, WriteMode.valueOf(ctx.argsAsString()), ctx.nowNs());
                return StepOutcome.DONE;
            })
            .step("resume", ctx -> StepOutcome.DONE)
            .build();
        final TaskTypeRegistry types = new TaskTypeRegistry().register(setMode);
        final TaskManager manager = new TaskManager(new TaskManager.Context()
            .journal(TaskJournal.open(dir.resolve("tasks.journal"), true))
            .types(types)
            .parameters(parameters)
            .trace(trace)
            .epochClock(clock)
            .errorHandler(errors::add));
        final UtmdAgent agent = new UtmdAgent(clock, runner, manager);
        agent.onStart();
        assertTrue(manager.isRecovered());
        agent.doWork();

        final SubmitResult result = manager.submit(setMode, ExampleTasks.args("WT"), 555, clock.advance(10), new SubmitResult());
        assertTrue(result.isAccepted());
        clock.advance(10);
        assertTrue(agent.doWork() > 0);
        assertEquals(CacheState.WRITE_THROUGH, runner.machine(7).state());
        assertEquals(TaskState.COMPLETED, manager.task(result.taskId()).state());

        final TraceSnapshot snapshot = new TraceSnapshot(256);
        trace.copyBySubject(7, snapshot);
        final String text = new TraceFormatter(types, runner, parameters)
            .formatAll(snapshot, 0, new StringBuilder()).toString();
        final int stepWriteMode = text.indexOf("STEP_BEGIN 2/3 write-mode");
        final int transition = text.indexOf("machine=volume-7-cache subj=7 TRANSITION WRITE_BACK -> WRITE_THROUGH");
        final int completed = text.indexOf("STATE RUNNING -> COMPLETED");
        assertTrue(stepWriteMode > 0 && transition > stepWriteMode && completed > stepWriteMode, text);
        assertTrue(text.contains("TRIGGERED in WRITE_BACK by volume.7.writeMode"), text);
        assertEquals(List.of(), errors);
    }
}
