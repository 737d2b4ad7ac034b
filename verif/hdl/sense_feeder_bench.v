// Self-running stream harness around a feeder build of sense_core (feeder=True).
//
// Like sense_bench.v, for the feeder's streams: the host writes a layer's table, IFM, pass
// command and weight beats as $readmemh files and pulses `load`; `start` plays them from
// memories and stores every result and counter beat, with no Python on the per-cycle path.
// `done` rises once both outputs have all their beats (with abft=both the last drained
// result comes after the last counters; under back-pressure either may be last); `dump`
// writes both to hex files. Random source idles and output back-pressure come from LFSRs:
// a stream stalls in a cycle when its 16 random bits are below `*_stall` (x/65536).
//
// Cycle 0 is the cycle after `start`; `cycles` counts up to and including the cycle of the
// last output beat, as sense_models.cycle_model.feeder_cycles does. `extra` is set if the
// core offers an output beat after the last expected one.
//
// ABFT and fault-injection builds (defines SENSE_STATUS, SENSE_FAULTS) pass the core's
// `status` out (its `clear_status` is tied off: a reset clears the status between runs) and
// its `fault` control in, the start cycle converted from cycle 0 to cycles since reset;
// `origin` is cycle 0 in that count. `fault` is sampled as `rst` rises and the stream
// lengths during the reset: a driver sets them before it.
module sense_feeder_bench #(
    parameter TABLE_W = 8,
    parameter IFM_W = 8,
    parameter PASS_W = 8,
    parameter WEIGHT_W = 8,
    parameter RESULT_W = 8,
    parameter STATS_W = 8,
    parameter TABLE_DEPTH = 16,
    parameter IFM_DEPTH = 1024,
    parameter PASS_DEPTH = 64,
    parameter WEIGHT_DEPTH = 1024,
    parameter RESULT_DEPTH = 1024,
    parameter STATS_DEPTH = 64,
    parameter STATUS_W = 1,
    parameter FAULT_W = 56
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        load,
    input  wire        start,
    input  wire        dump,
    input  wire [31:0] n_table,
    input  wire [31:0] n_ifm,
    input  wire [31:0] n_passes,
    input  wire [31:0] n_weights,
    input  wire [31:0] n_results,
    input  wire [31:0] n_stats,
    input  wire [15:0] source_stall,
    input  wire [15:0] sink_stall,
    input  wire [31:0] lfsr_seed,
`ifdef SENSE_STATUS
    output wire [STATUS_W-1:0] status,
`endif
`ifdef SENSE_FAULTS
    input  wire [FAULT_W-1:0] fault,
`endif
    output reg         done,
    output reg         extra,
    output reg  [31:0] cycles,
    output reg  [31:0] received,
    output reg  [31:0] origin
);
    reg [TABLE_W-1:0]  table_mem  [0:TABLE_DEPTH-1];
    reg [IFM_W-1:0]    ifm_mem    [0:IFM_DEPTH-1];
    reg [PASS_W-1:0]   pass_mem   [0:PASS_DEPTH-1];
    reg [WEIGHT_W-1:0] weight_mem [0:WEIGHT_DEPTH-1];
    reg [RESULT_W-1:0] result_mem [0:RESULT_DEPTH-1];
    reg [STATS_W-1:0]  stats_mem  [0:STATS_DEPTH-1];

    always @(posedge clk) begin
        if (load) begin
            $readmemh("bench_table.hex", table_mem, 0, n_table - 1);
            $readmemh("bench_ifm.hex", ifm_mem, 0, n_ifm - 1);
            $readmemh("bench_passes.hex", pass_mem, 0, n_passes - 1);
            $readmemh("bench_weights.hex", weight_mem, 0, n_weights - 1);
        end
        if (dump) begin
            $writememh("bench_results.hex", result_mem, 0, n_results - 1);
            $writememh("bench_stats.hex", stats_mem, 0, n_stats - 1);
        end
    end

    // Six Galois LFSRs (x^32 + x^22 + x^2 + x + 1), one per stream.
    reg [31:0] lfsr [0:5];
    integer s;
    always @(posedge clk) begin
        for (s = 0; s < 6; s = s + 1) begin
            if (start)
                lfsr[s] <= (lfsr_seed ^ (32'h9e3779b9 * (s + 1))) | 32'h1;  // never all-zero
            else
                lfsr[s] <= {1'b0, lfsr[s][31:1]} ^ (lfsr[s][0] ? 32'h80200003 : 32'h0);
        end
    end

    reg         running;
    reg  [31:0] count;
    reg  [31:0] table_index, ifm_index, pass_index, weight_index, stats_received;
    reg         table_go, ifm_go, pass_go, weight_go, result_go, stats_go;

    // The lengths the `valid` wires compare with, sampled in reset (drivers set them before
    // it; nothing reads them before `start`): registers rather than ports, as `fault_q` below.
    reg  [31:0] n_table_q, n_ifm_q, n_passes_q, n_weights_q;
    always @(posedge clk) begin
        if (rst) begin
            n_table_q <= n_table;
            n_ifm_q <= n_ifm;
            n_passes_q <= n_passes;
            n_weights_q <= n_weights;
        end
    end

    wire table_valid  = running && table_index < n_table_q && table_go;
    wire ifm_valid    = running && ifm_index < n_ifm_q && ifm_go;
    wire pass_valid   = running && pass_index < n_passes_q && pass_go;
    wire weight_valid = running && weight_index < n_weights_q && weight_go;
    wire result_ready = (running && result_go) || done;
    wire stats_ready  = (running && stats_go) || done;
    wire table_ready, ifm_ready, pass_ready, weight_ready, result_valid, stats_valid;
    wire [RESULT_W-1:0] result_payload;
    wire [STATS_W-1:0]  stats_payload;
    wire result_fire = result_valid && result_ready;
    wire stats_fire  = stats_valid && stats_ready;
    wire [31:0] results_now = received + {31'd0, result_fire};
    wire [31:0] stats_now   = stats_received + {31'd0, stats_fire};

`ifdef SENSE_FAULTS
    // The fault control as it was when `rst` rose (every driver sets it before the reset),
    // held in a register rather than read from the port: Verilator evaluates all logic fed
    // combinationally by a top-level input at every eval, twice a clock, and every fault
    // site reads it (the 8x8 with abft=both simulated ~4x slower reading the port directly).
    reg [FAULT_W-1:0] fault_q;
    always @(posedge rst) fault_q <= fault;
`endif

    // The core counts cycles from reset; cycle 0 here is `origin` there.
    reg [31:0] since_reset;
    always @(posedge clk) begin
        if (rst)
            since_reset <= 32'd0;
        else
            since_reset <= since_reset + 32'd1;
        if (start)
            origin <= since_reset + 32'd1;
    end

    sense_core core (
        .clk(clk),
        .rst(rst),
`ifdef SENSE_STATUS
        .status(status),
        .clear_status(1'b0),
`endif
`ifdef SENSE_FAULTS
        // fault = {start[31:0], mode, bit, site} (sense_models.formats.fault_format)
        .fault({fault_q[FAULT_W-1:FAULT_W-32] + origin, fault_q[FAULT_W-33:0]}),
`endif
        .table__payload(table_mem[table_index[$clog2(TABLE_DEPTH)-1:0]]),
        .table__valid(table_valid),
        .table__ready(table_ready),
        .ifm__payload(ifm_mem[ifm_index[$clog2(IFM_DEPTH)-1:0]]),
        .ifm__valid(ifm_valid),
        .ifm__ready(ifm_ready),
        .passes__payload(pass_mem[pass_index[$clog2(PASS_DEPTH)-1:0]]),
        .passes__valid(pass_valid),
        .passes__ready(pass_ready),
        .weights__payload(weight_mem[weight_index[$clog2(WEIGHT_DEPTH)-1:0]]),
        .weights__valid(weight_valid),
        .weights__ready(weight_ready),
        .results__payload(result_payload),
        .results__valid(result_valid),
        .results__ready(result_ready),
        .stats__payload(stats_payload),
        .stats__valid(stats_valid),
        .stats__ready(stats_ready)
    );

    always @(posedge clk) begin
        if (rst || start) begin
            running <= start;
            done <= 1'b0;
            extra <= 1'b0;
            count <= 32'd0;
            cycles <= 32'd0;
            received <= 32'd0;
            stats_received <= 32'd0;
            table_index <= 32'd0;
            ifm_index <= 32'd0;
            pass_index <= 32'd0;
            weight_index <= 32'd0;
            table_go <= 1'b1;
            ifm_go <= 1'b1;
            pass_go <= 1'b1;
            weight_go <= 1'b1;
            result_go <= 1'b1;
            stats_go <= 1'b1;
        end else if (done && (result_valid || stats_valid)) begin
            extra <= 1'b1;
        end else if (running) begin
            count <= count + 32'd1;
            // A source may only go idle between beats: valid holds until its transfer.
            if (!(table_valid && !table_ready))
                table_go <= lfsr[0][15:0] >= source_stall;
            if (!(ifm_valid && !ifm_ready))
                ifm_go <= lfsr[1][15:0] >= source_stall;
            if (!(pass_valid && !pass_ready))
                pass_go <= lfsr[2][15:0] >= source_stall;
            if (!(weight_valid && !weight_ready))
                weight_go <= lfsr[3][15:0] >= source_stall;
            result_go <= lfsr[4][15:0] >= sink_stall;
            stats_go <= lfsr[5][15:0] >= sink_stall;
            if (table_valid && table_ready)
                table_index <= table_index + 32'd1;
            if (ifm_valid && ifm_ready)
                ifm_index <= ifm_index + 32'd1;
            if (pass_valid && pass_ready)
                pass_index <= pass_index + 32'd1;
            if (weight_valid && weight_ready)
                weight_index <= weight_index + 32'd1;
            if (result_fire)
                result_mem[received[$clog2(RESULT_DEPTH)-1:0]] <= result_payload;
            if (stats_fire)
                stats_mem[stats_received[$clog2(STATS_DEPTH)-1:0]] <= stats_payload;
            received <= results_now;
            stats_received <= stats_now;
            if ((result_fire || stats_fire) && results_now == n_results && stats_now == n_stats) begin
                running <= 1'b0;
                done <= 1'b1;
                cycles <= count + 32'd1;
            end
        end
    end
endmodule
