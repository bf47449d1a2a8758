package io.afasim.controller;

import java.util.concurrent.CountDownLatch;

/**
 * {@code java io.afasim.controller.ControllerMain}: runs one controller until SIGTERM (clean stop)
 * or SIGKILL (a crash the next start recovers from). Settings come from {@code -D} properties, see
 * {@link ControllerContext}.
 */
public final class ControllerMain
{
    private ControllerMain()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final ControllerContext ctx = new ControllerContext();
        final Controller controller;
        try
        {
            controller = Controller.start(ctx);
        }
        catch (final IllegalArgumentException | IllegalStateException ex)
        {
            System.err.println("[afasim] controller cannot start: " + ex.getMessage());
            System.exit(2);
            return;
        }
        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            controller.close();
            stopped.countDown();
        }, "shutdown"));
        System.out.println("[afasim] controller " + ctx.node() + " up: nbd://" + ctx.bindAddress() + ":" +
            controller.nbdPort() + " admin " + ctx.bindAddress() + ":" + controller.adminPort() + " array " +
            ctx.arrayDir() + " pools " + controller.recoverySummary());
        System.out.flush();
        stopped.await();
    }
}
